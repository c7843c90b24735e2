using System.Globalization;

using Npgsql;

namespace Wave.Tests.Infrastructure.Persistence;

/// <summary>
/// A private Postgres cluster: initdb into a temp folder owned by the postgres user (the server refuses root), the
/// postmaster run in the foreground through runuser on a free loopback port, its socket in the data folder. fsync is
/// off: the tests check behaviour, not durability against power loss. Tests get a fresh schema each
/// (<see cref="CreateSchemaAsync"/>), so sharing one server never leaks state between them.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private const string ServiceUser = "postgres";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly string _directory;
    private readonly string _binDirectory;
    private TestProcess _process;
    private readonly Lazy<Task> _sharedDatabase;
    private int _databases;

    private PostgresServer(string directory, string binDirectory, int port, TestProcess process)
    {
        _directory = directory;
        _binDirectory = binDirectory;
        Port = port;
        _process = process;
        _sharedDatabase = new(() => ExecuteAsync("postgres", $"CREATE DATABASE {SharedDatabase}", CancellationToken.None));
    }

    private const string SharedDatabase = "wave";

    public int Port { get; }

    /// <summary>The Aspire form, as ConnectionStrings__postgres carries it.</summary>
    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username=postgres;Password=unused-with-trust;Database={database}";

    /// <summary>Stops the postmaster (fast shutdown: clients are disconnected) and waits for it to exit; the data stays.</summary>
    public async Task StopAsync()
    {
        await TestProcess.RunAsync(Requirements.Binary("runuser", "util-linux"),
            ["-u", ServiceUser, "--", Path.Combine(_binDirectory, "pg_ctl"), "-D", Path.Combine(_directory, "data"), "-m", "fast", "-w", "stop"],
            TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Starts the postmaster again on the same port and data, after <see cref="StopAsync"/>.</summary>
    public async Task StartAgainAsync()
    {
        if (!_process.HasExited)
        {
            throw new InvalidOperationException("the server is already running");
        }
        await _process.DisposeAsync();
        _process = StartPostmaster(_binDirectory, Path.Combine(_directory, "data"), _directory, Port);
        await WaitReadyAsync();
    }

    private static TestProcess StartPostmaster(string binDirectory, string data, string directory, int port) =>
        TestProcess.Start(Requirements.Binary("runuser", "util-linux"),
        [
            "-u", ServiceUser, "--", Path.Combine(binDirectory, "postgres"), "-D", data, "-p", port.ToString(CultureInfo.InvariantCulture),
            "-k", directory, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off", "-c", "max_connections=200",
        ]);

    public static async Task<PostgresServer> StartAsync()
    {
        var initdb = FindPostgresBinary("initdb");
        var binDirectory = Path.GetDirectoryName(ResolveLink(initdb))!;
        var runuser = Requirements.Binary("runuser", "util-linux");
        var directory = Directory.CreateTempSubdirectory("wave-pg-").FullName;
        var data = Path.Combine(directory, "data");
        await TestProcess.RunAsync("chown", [ServiceUser, directory]);
        await TestProcess.RunAsync(runuser, ["-u", ServiceUser, "--", initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
            TimeSpan.FromMinutes(1));
        var port = FreePort.Next();
        var process = StartPostmaster(binDirectory, data, directory, port);
        var server = new PostgresServer(directory, binDirectory, port, process);
        try
        {
            await server.WaitReadyAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    /// <summary>A new empty database, and the connection string to it (about a second: prefer <see cref="CreateSchemaAsync"/>).</summary>
    public async Task<string> CreateDatabaseAsync(CancellationToken cancellationToken)
    {
        var name = $"wave_test_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}"[..40];
        await ExecuteAsync("postgres", $"CREATE DATABASE \"{name}\"", cancellationToken);
        return ConnectionString(name);
    }

    /// <summary>
    /// A new empty schema in the shared database <c>wave</c>, and a connection string whose search path is that schema
    /// only: to the code under test, a database of its own, made in milliseconds.
    /// </summary>
    public async Task<string> CreateSchemaAsync(CancellationToken cancellationToken)
    {
        await _sharedDatabase.Value.WaitAsync(cancellationToken);
        var name = $"test_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}";
        await ExecuteAsync(SharedDatabase, $"CREATE SCHEMA \"{name}\"", cancellationToken);
        return ConnectionString(SharedDatabase) + $";Search Path={name}";
    }

    private async Task ExecuteAsync(string database, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(ConnectionString(database));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task WaitReadyAsync()
    {
        await FreePort.WaitListeningAsync(Port, StartTimeout, () => _process.Output);
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false");
                await connection.OpenAsync();
                return;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.CannotConnectNow && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
            catch (Exception e) when (_process.HasExited)
            {
                throw new InvalidOperationException($"postgres exited while starting:\n{_process.Output}", e);
            }
        }
    }

    private static string FindPostgresBinary(string name)
    {
        try
        {
            return Requirements.Binary(name, "postgresql");
        }
        catch (MissingRequirementException)
        {
            // Debian keeps the server binaries outside PATH.
            var candidate = Directory.Exists("/usr/lib/postgresql")
                ? Directory.GetDirectories("/usr/lib/postgresql").Order(StringComparer.Ordinal).Select(d => Path.Combine(d, "bin", name)).LastOrDefault(File.Exists)
                : null;
            return candidate ?? throw new MissingRequirementException(
                $"'{name}' is not installed: run `apt-get install -y postgresql` (or scripts/test.sh, which installs everything the tests need)");
        }
    }

    private static string ResolveLink(string path) => new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;

    public async ValueTask DisposeAsync()
    {
        try
        {
            // An orderly stop releases the shared memory a SIGKILLed postmaster would leave behind.
            await TestProcess.RunAsync(Requirements.Binary("runuser", "util-linux"),
                ["-u", ServiceUser, "--", Path.Combine(_binDirectory, "pg_ctl"), "-D", Path.Combine(_directory, "data"), "-m", "immediate", "-w", "stop"],
                TimeSpan.FromSeconds(20));
        }
        catch (Exception e) when (e is CommandFailedException or TimeoutException)
        {
        }
        await _process.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
