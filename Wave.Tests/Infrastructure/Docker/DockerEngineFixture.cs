using Wave.Tests.Infrastructure;

[assembly: AssemblyFixture(typeof(DockerEngineFixture))]

namespace Wave.Tests.Infrastructure;

/// <summary>
/// One private Docker engine per test run, started on first use so that a machine without docker.io only fails the
/// tests that need it. Test classes take this fixture in their constructor and call <see cref="GetAsync"/>.
/// </summary>
public sealed class DockerEngineFixture : IAsyncDisposable
{
    private readonly Lazy<Task<DockerEngine>> _engine = new(DockerEngine.StartAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    public Task<DockerEngine> GetAsync() => _engine.Value;

    public async ValueTask DisposeAsync()
    {
        if (!_engine.IsValueCreated)
        {
            return;
        }
        DockerEngine engine;
        try
        {
            engine = await _engine.Value;
        }
        catch (Exception)
        {
            return; // it never started; StartAsync already cleaned up after itself
        }
        await engine.DisposeAsync();
    }
}

/// <summary>
/// A dockerd listening on a unix socket in its own temporary folder (data, exec root, pid file, client config), with
/// no iptables rules and no bridge network, so it neither needs nor touches the machine's network setup.
/// Loopback registries (127.0.0.0/8) are plain HTTP for dockerd without any configuration.
/// </summary>
public sealed class DockerEngine : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan GracefulStopTimeout = TimeSpan.FromSeconds(15);

    // A unix socket path must fit in sockaddr_un.sun_path (108 bytes including the terminating NUL).
    private const int MaxSocketPathLength = 100;

    private readonly TestProcess _daemon;
    private readonly string _root;
    private readonly string _dockerCli;
    private readonly Dictionary<string, string?> _clientEnvironment;

    private DockerEngine(TestProcess daemon, string root, string dockerCli, string host)
    {
        _daemon = daemon;
        _root = root;
        _dockerCli = dockerCli;
        Host = host;
        _clientEnvironment = new Dictionary<string, string?>
        {
            ["DOCKER_HOST"] = host,
            // A private client config: the tests never read or write the invoking user's ~/.docker.
            ["DOCKER_CONFIG"] = Path.Combine(root, "client"),
        };
    }

    /// <summary>The engine's address for DOCKER_HOST, e.g. <c>unix:///tmp/wave-dockerd-x/d.sock</c>.</summary>
    public string Host { get; }

    /// <summary>The environment a docker client needs to reach this engine (DOCKER_HOST, DOCKER_CONFIG).</summary>
    public IReadOnlyDictionary<string, string?> ClientEnvironment => _clientEnvironment;

    /// <summary>dockerd's recent output, for failure messages.</summary>
    public string DaemonOutput => _daemon.Output;

    /// <summary>Runs the docker CLI against this engine and returns its standard output.</summary>
    /// <exception cref="CommandFailedException">with the command's output when it exits non-zero.</exception>
    public Task<string> RunAsync(params string[] args) => RunAsync(TimeSpan.FromMinutes(3), args);

    public Task<string> RunAsync(TimeSpan timeout, params string[] args) =>
        TestProcess.RunAsync(_dockerCli, args, timeout, _clientEnvironment);

    internal static async Task<DockerEngine> StartAsync()
    {
        var dockerd = Requirements.Binary("dockerd", "docker.io");
        var dockerCli = Requirements.Binary("docker", "docker.io");
        Requirements.Binary("containerd", "containerd"); // dockerd starts its own managed containerd

        var root = CreateShortTempDirectory();
        var socket = Path.Combine(root, "d.sock");
        var host = "unix://" + socket;
        foreach (var dir in new[] { "data", "exec", "client" })
        {
            Directory.CreateDirectory(Path.Combine(root, dir));
        }
        var configFile = Path.Combine(root, "daemon.json");
        // An explicit empty config keeps a machine's /etc/docker/daemon.json out of the tests.
        await File.WriteAllTextAsync(configFile, "{}");

        var daemon = TestProcess.Start(dockerd,
        [
            "--config-file", configFile,
            "--storage-driver", "vfs",
            "--iptables=false", "--ip6tables=false", "--bridge=none",
            "--data-root", Path.Combine(root, "data"),
            "--exec-root", Path.Combine(root, "exec"),
            "--pidfile", Path.Combine(root, "dockerd.pid"),
            "--host", host,
        ]);
        var engine = new DockerEngine(daemon, root, dockerCli, host);
        try
        {
            await engine.WaitUntilReadyAsync();
            return engine;
        }
        catch
        {
            await engine.DisposeAsync();
            throw;
        }
    }

    private static string CreateShortTempDirectory()
    {
        var dir = Directory.CreateTempSubdirectory("wave-dockerd-").FullName;
        if (dir.Length + "/exec/containerd/containerd.sock.ttrpc".Length <= MaxSocketPathLength)
        {
            return dir;
        }
        // TMPDIR is too deep for unix sockets (dockerd and its containerd put theirs under these folders).
        Directory.Delete(dir);
        var fallback = Path.Combine("/tmp", "wave-dockerd-" + Path.GetRandomFileName().Replace(".", "", StringComparison.Ordinal));
        Directory.CreateDirectory(fallback);
        return fallback;
    }

    private async Task WaitUntilReadyAsync()
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        string lastError = "";
        while (DateTime.UtcNow < deadline)
        {
            if (_daemon.HasExited)
            {
                throw new InvalidOperationException($"dockerd exited with {_daemon.ExitCode} while starting; output:\n{_daemon.Output}");
            }
            try
            {
                await RunAsync(TimeSpan.FromSeconds(10), "version", "--format", "{{.Server.Version}}");
                return;
            }
            catch (Exception e) when (e is CommandFailedException or TimeoutException)
            {
                lastError = e.Message;
                await Task.Delay(100);
            }
        }
        throw new TimeoutException(
            $"dockerd did not answer `docker version` within {StartTimeout.TotalSeconds:0}s; last client error:\n{lastError}\ndockerd output:\n{_daemon.Output}");
    }

    public async ValueTask DisposeAsync()
    {
        // SIGTERM first: dockerd then stops its containers and its containerd, and releases the mounts in its folders.
        if (!_daemon.HasExited)
        {
            try
            {
                await TestProcess.RunAsync("kill", ["-TERM", _daemon.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(5));
                await _daemon.WaitForExitAsync(GracefulStopTimeout);
            }
            catch (Exception e) when (e is CommandFailedException or TimeoutException)
            {
            }
        }
        await _daemon.DisposeAsync(); // SIGKILL for whatever is left of the tree
        await KillStrayProcessesAsync();
        DeleteBestEffort();
    }

    /// <summary>
    /// containerd shims detach from the process tree, so they are found by our folder in their command line.
    /// </summary>
    private async Task KillStrayProcessesAsync()
    {
        var strays = new List<int>();
        foreach (var procDir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(procDir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            try
            {
                var commandLine = (await File.ReadAllTextAsync(Path.Combine(procDir, "cmdline"))).Replace('\0', ' ');
                if (commandLine.Contains(_root, StringComparison.Ordinal))
                {
                    strays.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        foreach (var pid in strays)
        {
            try
            {
                using var process = System.Diagnostics.Process.GetProcessById(pid);
                process.Kill(entireProcessTree: true);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
            }
        }
    }

    private void DeleteBestEffort()
    {
        // A recursive delete would walk into a mount a killed daemon left behind; leave such a folder alone.
        var prefix = _root + "/";
        if (File.ReadLines("/proc/self/mountinfo").Any(line => line.Split(' ') is { Length: > 4 } fields && fields[4].StartsWith(prefix, StringComparison.Ordinal)))
        {
            return;
        }
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // scripts/test.sh removes the run's whole temp folder afterwards.
        }
    }
}
