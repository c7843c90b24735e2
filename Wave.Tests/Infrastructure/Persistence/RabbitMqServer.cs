using System.Globalization;

using RabbitMQ.Client;

namespace Wave.Tests.Infrastructure.Persistence;

/// <summary>
/// A private rabbitmq-server node: its own node name, ports, data, logs, config, plugins file and Erlang cookie (HOME),
/// so that it never meets the system instance apt may have started, nor another test run's node. Started in the
/// foreground (the Debian wrapper would switch to the rabbitmq user and detach) and ready once an AMQP connection
/// with its user succeeds. <see cref="KillAsync"/> + <see cref="StartAgainAsync"/> restart it on the same data.
/// Its Erlang port mapper (epmd) is a private foreground process on its own port too: left to itself the node would
/// start <c>epmd -daemon</c>, which detaches and outlives the test run.
/// </summary>
public sealed class RabbitMqServer : IAsyncDisposable
{
    private const string User = "wave";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly string _binary;
    private readonly string _directory;
    private readonly int _distributionPort;
    private readonly string _password = Guid.NewGuid().ToString("N");
    private TestProcess? _process;
    private TestProcess? _epmd;
    private int _epmdPort;

    private RabbitMqServer(string binary, string directory, int port, int distributionPort)
    {
        _binary = binary;
        _directory = directory;
        Port = port;
        _distributionPort = distributionPort;
        NodeName = $"wave-test-{port.ToString(CultureInfo.InvariantCulture)}@localhost";
    }

    public int Port { get; }

    public string NodeName { get; }

    /// <summary>The Aspire form, as ConnectionStrings__rabbitmq carries it.</summary>
    public string ConnectionString => $"amqp://{User}:{_password}@127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/";

    public static async Task<RabbitMqServer> StartAsync()
    {
        Requirements.Binary("rabbitmq-server", "rabbitmq-server");
        const string binary = "/usr/lib/rabbitmq/bin/rabbitmq-server";
        if (!File.Exists(binary))
        {
            throw new MissingRequirementException(
                $"'{binary}' is missing: run `apt-get install -y rabbitmq-server` (or scripts/test.sh, which installs everything the tests need)");
        }
        var directory = Directory.CreateTempSubdirectory("wave-rmq-").FullName;
        var server = new RabbitMqServer(binary, directory, FreePort.Next(), FreePort.Next());
        await File.WriteAllTextAsync(Path.Combine(directory, "rabbitmq.conf"), string.Join('\n',
        [
            $"listeners.tcp.default = 127.0.0.1:{server.Port.ToString(CultureInfo.InvariantCulture)}",
            $"default_user = {User}",
            $"default_pass = {server._password}",
            "default_vhost = /",
            "loopback_users = none",
            "disk_free_limit.absolute = 1MB",
            "log.console = true",
            "log.console.level = warning",
            "log.file = false",
            "",
        ]));
        await File.WriteAllTextAsync(Path.Combine(directory, "enabled_plugins"), "[].\n");
        await File.WriteAllTextAsync(Path.Combine(directory, "rabbitmq-env.conf"), "");
        Directory.CreateDirectory(Path.Combine(directory, "home"));
        try
        {
            await server.StartAgainAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    /// <summary>Starts the node (again) on the same ports and data.</summary>
    public async Task StartAgainAsync()
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException("the server is already running");
        }
        await EnsureEpmdAsync();
        var port = Port.ToString(CultureInfo.InvariantCulture);
        var process = TestProcess.Start(_binary, [], new Dictionary<string, string?>
        {
            ["HOME"] = Path.Combine(_directory, "home"),
            ["ERL_EPMD_PORT"] = _epmdPort.ToString(CultureInfo.InvariantCulture),
            ["RABBITMQ_NODENAME"] = NodeName,
            ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_NODE_PORT"] = port,
            ["RABBITMQ_DIST_PORT"] = _distributionPort.ToString(CultureInfo.InvariantCulture),
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(_directory, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = Path.Combine(_directory, "log"),
            ["RABBITMQ_CONFIG_FILE"] = Path.Combine(_directory, "rabbitmq.conf"),
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(_directory, "enabled_plugins"),
            ["RABBITMQ_CONF_ENV_FILE"] = Path.Combine(_directory, "rabbitmq-env.conf"),
            ["RABBITMQ_ADVANCED_CONFIG_FILE"] = Path.Combine(_directory, "advanced.config"),
        }, workingDirectory: _directory);
        _process = process;
        await WaitReadyAsync(process);
    }

    private async Task EnsureEpmdAsync()
    {
        if (_epmd is { HasExited: false })
        {
            return;
        }
        if (_epmd is not null)
        {
            await _epmd.DisposeAsync();
        }
        var binary = Requirements.Binary("epmd", "erlang-base");
        _epmdPort = FreePort.Next();
        var epmd = TestProcess.Start(binary, ["-port", _epmdPort.ToString(CultureInfo.InvariantCulture), "-address", "127.0.0.1"]);
        _epmd = epmd;
        await FreePort.WaitListeningAsync(_epmdPort, TimeSpan.FromSeconds(20), () => epmd.Output);
    }

    private async Task WaitReadyAsync(TestProcess process)
    {
        var factory = new ConnectionFactory { Uri = new Uri(ConnectionString), AutomaticRecoveryEnabled = false };
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"rabbitmq-server exited with {process.ExitCode} while starting:\n{process.Output}");
            }
            try
            {
                await using var connection = await factory.CreateConnectionAsync();
                return;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
            catch (Exception e)
            {
                throw new TimeoutException($"rabbitmq-server did not accept AMQP connections in {StartTimeout.TotalSeconds:0}s:\n{process.Output}", e);
            }
        }
    }

    /// <summary>An orderly stop (<c>rabbitmqctl stop</c>, with this node's cookie), waiting for the node to exit.</summary>
    public async Task StopAsync()
    {
        if (_process is not { } process)
        {
            return;
        }
        await TestProcess.RunAsync("/usr/lib/rabbitmq/bin/rabbitmqctl", ["-n", NodeName, "stop"], TimeSpan.FromSeconds(60),
            new Dictionary<string, string?>
            {
                ["HOME"] = Path.Combine(_directory, "home"),
                ["ERL_EPMD_PORT"] = _epmdPort.ToString(CultureInfo.InvariantCulture),
            });
        await process.WaitForExitAsync(TimeSpan.FromSeconds(30));
        _process = null;
        await process.DisposeAsync();
    }

    /// <summary>SIGKILL to the node: to its clients a crash; confirmed messages of durable queues must survive it.</summary>
    public async Task KillAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            await process.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        if (_epmd is not null)
        {
            await _epmd.DisposeAsync();
            _epmd = null;
        }
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
