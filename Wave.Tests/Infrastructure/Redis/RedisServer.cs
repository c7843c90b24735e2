using System.Globalization;

namespace Wave.Tests.Infrastructure.Redis;

/// <summary>
/// A private redis-server on a free loopback port, without persistence. Tests that break the server (kill it,
/// freeze it, require a password) start their own; everything else shares the one of <see cref="RedisFixture"/>.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private readonly string _binary;
    private readonly string _dataDirectory;
    private TestProcess? _process;

    private RedisServer(string binary, int port, string? password)
    {
        _binary = binary;
        Port = port;
        Password = password;
        _dataDirectory = Directory.CreateTempSubdirectory("wave-redis-").FullName;
    }

    public int Port { get; }

    public string? Password { get; }

    /// <summary>StackExchange.Redis syntax, as Aspire hands it to a service.</summary>
    public string ConnectionString => Password is null ? $"127.0.0.1:{Port}" : $"127.0.0.1:{Port},password={Password}";

    /// <summary>The server's process id, to freeze it with SIGSTOP.</summary>
    public int ProcessId => _process?.Id ?? throw new InvalidOperationException("the server is not running");

    public static async Task<RedisServer> StartAsync(string? password = null)
    {
        var binary = Requirements.Binary("redis-server", "redis-server");
        var server = new RedisServer(binary, FreePort.Next(), password);
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>Starts the server (again) on the same port.</summary>
    public async Task StartAgainAsync()
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException("the server is already running");
        }
        List<string> arguments =
        [
            "--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", _dataDirectory, "--daemonize", "no",
        ];
        if (Password is not null)
        {
            arguments.AddRange(["--requirepass", Password]);
        }
        var process = TestProcess.Start(_binary, arguments);
        _process = process;
        await FreePort.WaitListeningAsync(Port, StartTimeout, () => process.Output);
    }

    /// <summary>SIGKILL: to its clients, a crash.</summary>
    public async Task KillAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            await process.DisposeAsync();
        }
    }

    /// <summary>Kills the server and starts it again on the same port, empty.</summary>
    public async Task RestartAsync()
    {
        await KillAsync();
        await StartAgainAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
