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

    private RedisServer(string binary, int port, string? password, RedisAclUser? user)
    {
        _binary = binary;
        Port = port;
        Password = password;
        User = user;
        _dataDirectory = Directory.CreateTempSubdirectory("wave-redis-").FullName;
    }

    public int Port { get; }

    public string? Password { get; }

    /// <summary>An ACL user the server was started with; the default user is then disabled.</summary>
    public RedisAclUser? User { get; }

    /// <summary>StackExchange.Redis syntax, as Aspire hands it to a service: the ACL user's login when there is one.</summary>
    public string ConnectionString => User is { } user ? $"127.0.0.1:{Port},user={user.Name},password={user.Password}"
        : Password is null ? $"127.0.0.1:{Port}" : $"127.0.0.1:{Port},password={Password}";

    /// <summary>The server's process id, to freeze it with SIGSTOP.</summary>
    public int ProcessId => _process?.Id ?? throw new InvalidOperationException("the server is not running");

    public static async Task<RedisServer> StartAsync(string? password = null, RedisAclUser? user = null)
    {
        var binary = Requirements.Binary("redis-server", "redis-server");
        var server = new RedisServer(binary, FreePort.Next(), password, user);
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
        if (User is { } user)
        {
            // "user NAME RULES..." as a configuration directive; the default user cannot log in at all.
            arguments.AddRange(["--user", user.Name, "on", ">" + user.Password, .. user.Rules]);
            arguments.AddRange(["--user", "default", "off"]);
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

/// <summary>A Redis ACL user: its name, password and rules (key patterns <c>~wave:*</c>, channels <c>&amp;wave:*</c>, commands <c>+@all</c>).</summary>
public sealed record RedisAclUser(string Name, string Password, IReadOnlyList<string> Rules);
