using System.Globalization;

using Wave.Tests.Infrastructure;

namespace Wave.Bench;

/// <summary>
/// A Wave service as its own process, as it runs in production (without the AppHost, whose DCP and dashboard are for
/// development): <see cref="StartEmbeddedAsync"/> is the embedded topology, <c>dotnet Wave.Api.dll --Wave:Embedded=true</c>,
/// what the AppHost runs by default; <see cref="StartAsync"/> one service of the distributed topology.
/// </summary>
public sealed class WaveProcess : IAsyncDisposable
{
    private readonly TestProcess _process;
    private readonly string _blobCache;

    private WaveProcess(TestProcess process, int port, string blobCache)
    {
        _process = process;
        Port = port;
        _blobCache = blobCache;
    }

    public int Port { get; }

    /// <summary>
    /// Makes the next pull of a layer a first pull again (streamed, verified and written). A pull's file is committed
    /// just after its last byte went out, so after a pull (<paramref name="afterPull"/>) this waits for that first.
    /// </summary>
    public async Task EmptyBlobCacheAsync(bool afterPull)
    {
        var content = Path.Combine(_blobCache, "sha256");
        for (var waited = 0; afterPull && waited < 5000 && !(Directory.Exists(content) && Directory.EnumerateFiles(content).Any()); waited += 10)
        {
            await Task.Delay(10);
        }
        foreach (var file in Directory.Exists(content) ? Directory.EnumerateFiles(content) : [])
        {
            File.Delete(file);
        }
    }

    public int Pid => _process.Id;
    public string Host => $"127.0.0.1:{Port}";
    public Uri BaseAddress => new($"http://{Host}/");

    /// <summary>The Api, the /v2/ endpoints and the builder in one process with in-process state.</summary>
    public static Task<WaveProcess> StartEmbeddedAsync(string waveApiDll, params string[] settings) =>
        StartAsync(waveApiDll, ["--Wave:Embedded=true", .. settings]);

    public static async Task<WaveProcess> StartAsync(string serviceDll, params string[] settings)
    {
        var port = FreePort.Next();
        // Every Wave starts with an empty blob cache of its own, removed when it stops.
        var blobCache = Directory.CreateTempSubdirectory("wave-bench-blobs-").FullName;
        var process = TestProcess.Start("dotnet", [serviceDll, "--urls", $"http://127.0.0.1:{port}", $"--Wave:Proxy:BlobCache:Directory={blobCache}", .. settings], new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__Wave"] = "Warning",
            // The benchmark measures serving: all its load comes from one anonymous client IP, which the default
            // pull limit (250 per hour) would stop after a fraction of a second.
            ["Wave__RateLimits__Enabled"] = "false",
        }, Path.GetDirectoryName(serviceDll));
        await FreePort.WaitListeningAsync(port, TimeSpan.FromSeconds(30), () => process.Output);
        return new WaveProcess(process, port, blobCache);
    }

    /// <summary>Resident set size of the process, from /proc.</summary>
    public long ResidentBytes() => ResidentBytesOf(_process.Id);

    public static long ResidentBytesOf(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }
        throw new InvalidOperationException("no VmRSS in /proc status");
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        Directory.Delete(_blobCache, recursive: true);
    }
}

/// <summary>A private dockerd (vfs storage, no networking), started like the test suite's Docker engine.</summary>
public sealed class DockerDaemon : IAsyncDisposable
{
    private readonly TestProcess _daemon;
    private readonly Dictionary<string, string?> _environment;

    private DockerDaemon(TestProcess daemon, string root)
    {
        _daemon = daemon;
        Root = root;
        _environment = new() { ["DOCKER_HOST"] = $"unix://{root}/d.sock", ["DOCKER_CONFIG"] = Path.Combine(root, "client") };
    }

    public string Root { get; }

    public static async Task<DockerDaemon> StartAsync()
    {
        var dockerd = Requirements.Binary("dockerd", "docker.io");
        var root = Path.Combine("/tmp", "wave-bench-dockerd-" + Path.GetRandomFileName().Replace(".", "", StringComparison.Ordinal));
        foreach (var dir in new[] { "data", "exec", "client" })
        {
            Directory.CreateDirectory(Path.Combine(root, dir));
        }
        await File.WriteAllTextAsync(Path.Combine(root, "daemon.json"), "{}");
        var daemon = TestProcess.Start(dockerd,
        [
            "--config-file", Path.Combine(root, "daemon.json"), "--storage-driver", "vfs",
            "--iptables=false", "--ip6tables=false", "--bridge=none",
            "--data-root", Path.Combine(root, "data"), "--exec-root", Path.Combine(root, "exec"),
            "--pidfile", Path.Combine(root, "dockerd.pid"), "--host", $"unix://{root}/d.sock",
        ]);
        var engine = new DockerDaemon(daemon, root);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                await engine.RunAsync("version");
                return engine;
            }
            catch (CommandFailedException) when (DateTime.UtcNow < deadline && !daemon.HasExited)
            {
                await Task.Delay(200);
            }
        }
    }

    public Task<string> RunAsync(params string[] args) =>
        TestProcess.RunAsync(Requirements.Binary("docker", "docker.io"), args, TimeSpan.FromMinutes(5), _environment);

    public async ValueTask DisposeAsync()
    {
        if (!_daemon.HasExited)
        {
            try
            {
                await TestProcess.RunAsync("kill", ["-TERM", _daemon.Id.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(5));
                await _daemon.WaitForExitAsync(TimeSpan.FromSeconds(15));
            }
            catch (Exception e) when (e is CommandFailedException or TimeoutException)
            {
            }
        }
        await _daemon.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
