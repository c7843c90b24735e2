using System.Globalization;
using System.Security.Cryptography;
using System.Text;

using Npgsql;

using Wave.AppHost.Model;

namespace Wave.AppHost.Orchestration;

/// <summary>A backing service ready for use: its connection string, and the processes to stop (in order) at the end.</summary>
public sealed record ProvisionedService(string ConnectionString, string Source, string? Endpoint, IReadOnlyList<(ManagedProcess Process, int Signal)> Processes)
{
    public int? MainProcessId => Processes.Count == 0 ? null : Processes[0].Process.Id;
}

/// <summary>
/// Gets each backing service, in this order: a connection string from configuration; a private server started from
/// the binary on PATH, on a free loopback port with its data under the data folder (kept across runs); a container on
/// a reachable Docker engine; otherwise a message that says what to install.
/// </summary>
public sealed class BackingServiceProvisioner(IConfiguration configuration, string dataDirectory)
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);

    public async Task<ProvisionedService> ProvisionAsync(BackingResource resource, LogTail log, CancellationToken cancellationToken)
    {
        var configured = configuration[$"ConnectionStrings:{resource.Name}"];
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return new ProvisionedService(configured, "configuration (ConnectionStrings__" + resource.Name + ")", null, []);
        }
        var folder = Path.Combine(dataDirectory, resource.Name);
        Directory.CreateDirectory(folder);
        switch (resource.Kind)
        {
            case BackingKind.Redis when Executables.Find("redis-server") is { } redis:
                return await StartRedisAsync(redis, folder, log, cancellationToken);
            case BackingKind.Postgres when Executables.Find("initdb") is { } initdb && Executables.Find("postgres") is { } postgres:
                return await StartPostgresAsync(resource, initdb, postgres, folder, log, cancellationToken);
            case BackingKind.RabbitMq when RabbitMqServer() is { } rabbit && Executables.Find("epmd") is { } epmd:
                return await StartRabbitMqAsync(resource, rabbit, epmd, folder, log, cancellationToken);
        }
        if (await DockerReachableAsync(cancellationToken))
        {
            return await StartContainerAsync(resource, folder, log, cancellationToken);
        }
        throw new MissingBackingServiceException(resource.Kind switch
        {
            BackingKind.Redis => "redis: set ConnectionStrings__redis, or install redis-server (apt-get install -y redis-server), or start a Docker engine",
            BackingKind.Postgres => "postgres: set ConnectionStrings__postgres, or install PostgreSQL (apt-get install -y postgresql: initdb and postgres), or start a Docker engine",
            BackingKind.RabbitMq => "rabbitmq: set ConnectionStrings__rabbitmq, or install rabbitmq-server (apt-get install -y rabbitmq-server), or start a Docker engine",
            _ => $"{resource.Name}: no way to provide it",
        });
    }

    private static async Task<ProvisionedService> StartRedisAsync(string binary, string folder, LogTail log, CancellationToken cancellationToken)
    {
        var port = Executables.FreeLoopbackPort();
        var process = ManagedProcess.Start("redis", binary,
            ["--port", Port(port), "--bind", "127.0.0.1", "--dir", folder, "--appendonly", "yes", "--save", "", "--daemonize", "no"],
            new Dictionary<string, string?>(), log, echo: false);
        await Executables.WaitForTcpAsync(port, StartTimeout, process, "redis-server", cancellationToken);
        return new ProvisionedService($"127.0.0.1:{port}", binary, $"tcp://127.0.0.1:{port}", [(process, ProcessTree.SigTerm)]);
    }

    private static async Task<ProvisionedService> StartPostgresAsync(BackingResource resource, string initdb, string postgres, string folder,
        LogTail log, CancellationToken cancellationToken)
    {
        var asPostgres = RunAsPostgresUser();
        if (asPostgres)
        {
            folder = PostgresReachableFolder(folder, log);
        }
        var cluster = Path.Combine(folder, "cluster");
        if (!File.Exists(Path.Combine(cluster, "PG_VERSION")))
        {
            Directory.CreateDirectory(cluster);
            if (asPostgres)
            {
                await Executables.RunAsync("chown", ["-R", "postgres:postgres", folder], cancellationToken);
            }
            await Executables.RunAsync(asPostgres ? "setpriv" : initdb,
                [.. AsPostgres(asPostgres, initdb), "-D", cluster, "-U", "postgres", "--auth=trust", "-E", "UTF8"], cancellationToken);
        }
        var port = Executables.FreeLoopbackPort();
        // The postgres binary itself (not pg_ctl, which daemonizes) so that its process id is the server's; no unix
        // socket, whose path would have to stay under 108 characters.
        var process = ManagedProcess.Start("postgres", asPostgres ? "setpriv" : postgres,
            [.. AsPostgres(asPostgres, postgres), "-D", cluster, "-p", Port(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
            new Dictionary<string, string?>(), log, echo: false);
        await Executables.WaitForTcpAsync(port, StartTimeout, process, "postgres", cancellationToken);

        var server = ConnectionStrings.ForServer(resource with { Database = null }, "127.0.0.1", port, password: null);
        await EnsureDatabaseAsync(server, resource.Database ?? "postgres", cancellationToken);
        // SIGINT is postgres' "fast" shutdown: it does not wait for clients to disconnect.
        return new ProvisionedService(ConnectionStrings.ForServer(resource, "127.0.0.1", port, null), postgres, $"tcp://127.0.0.1:{port}",
            [(process, ProcessTree.SigInt)]);
    }

    /// <summary>
    /// The postgres user must be able to walk down to its cluster: the AppHost's own folders are opened for that
    /// (search only, not listing); when a parent it does not own is closed (a home folder such as /root), the cluster
    /// goes to a folder of its own under /var/tmp, named after the data folder so that it is found again next run.
    /// </summary>
    private static string PostgresReachableFolder(string folder, LogTail log)
    {
        if (OperatingSystem.IsWindows())
        {
            return folder;
        }
        var root = Path.GetDirectoryName(Path.GetDirectoryName(folder)!)!;
        var ours = new[] { folder, Path.GetDirectoryName(folder)! };
        foreach (var dir in ours)
        {
            File.SetUnixFileMode(dir, File.GetUnixFileMode(dir) | UnixFileMode.OtherExecute | UnixFileMode.GroupExecute);
        }
        for (var dir = new DirectoryInfo(root); dir is not null; dir = dir.Parent)
        {
            if ((File.GetUnixFileMode(dir.FullName) & UnixFileMode.OtherExecute) == 0)
            {
                var elsewhere = Path.Combine("/var/tmp", "wave-apphost-postgres-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(folder)))[..12]);
                Directory.CreateDirectory(elsewhere);
                log.Add($"[apphost] the postgres user cannot enter {dir.FullName}: the cluster of {folder} is kept in {elsewhere}");
                return elsewhere;
            }
        }
        return folder;
    }

    /// <summary>Postgres refuses to run as root: as root it runs as the postgres user, which must own its data.</summary>
    private static bool RunAsPostgresUser() => Environment.UserName == "root";

    private static IEnumerable<string> AsPostgres(bool asPostgres, string binary) =>
        asPostgres ? ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", binary] : [];

    private static async Task EnsureDatabaseAsync(string serverConnectionString, string database, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(serverConnectionString + ";Database=postgres;Pooling=false");
                await connection.OpenAsync(cancellationToken);
                await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection);
                exists.Parameters.AddWithValue(database);
                if (await exists.ExecuteScalarAsync(cancellationToken) is null)
                {
                    await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
                    await create.ExecuteNonQueryAsync(cancellationToken);
                }
                return;
            }
            catch (PostgresException e) when (e.SqlState == "57P03" && DateTime.UtcNow < deadline)
            {
                // "the database system is starting up"
                await Task.Delay(100, cancellationToken);
            }
        }
    }

    private static string? RabbitMqServer()
    {
        // Debian's /usr/sbin/rabbitmq-server switches to the rabbitmq user and the system's folders; the script it
        // wraps runs a private node with the environment given here.
        const string Unwrapped = "/usr/lib/rabbitmq/bin/rabbitmq-server";
        return File.Exists(Unwrapped) ? Unwrapped : Executables.Find("rabbitmq-server");
    }

    private static async Task<ProvisionedService> StartRabbitMqAsync(BackingResource resource, string server, string epmdBinary, string folder,
        LogTail log, CancellationToken cancellationToken)
    {
        var password = StoredPassword(folder);
        var config = Path.Combine(folder, "rabbitmq.conf");
        // default_user is created on the node's first boot only; loopback_users = none lets it in from any address.
        await File.WriteAllTextAsync(config, $"default_user = {resource.UserName}\ndefault_pass = {password}\nloopback_users = none\n", cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(folder, "enabled_plugins"), "[].\n", cancellationToken);
        var nodeName = "wave-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(folder)))[..12] + "@localhost";

        // Erlang starts its port mapper as a daemon that would outlive the AppHost: a private one is started here
        // instead, in the foreground, and stopped with the node.
        var epmdPort = Executables.FreeLoopbackPort();
        var epmd = ManagedProcess.Start("epmd", epmdBinary, ["-port", Port(epmdPort), "-address", "127.0.0.1"],
            new Dictionary<string, string?>(), log, echo: false);
        await Executables.WaitForTcpAsync(epmdPort, StartTimeout, epmd, "epmd", cancellationToken);

        var port = Executables.FreeLoopbackPort();
        var environment = new Dictionary<string, string?>
        {
            ["HOME"] = folder, // the Erlang cookie is written there
            ["ERL_EPMD_PORT"] = Port(epmdPort),
            ["RABBITMQ_NODENAME"] = nodeName,
            ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_NODE_PORT"] = Port(port),
            ["RABBITMQ_DIST_PORT"] = Port(Executables.FreeLoopbackPort()),
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(folder, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = Path.Combine(folder, "log"),
            ["RABBITMQ_CONFIG_FILE"] = config,
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(folder, "enabled_plugins"),
            ["RABBITMQ_LOGS"] = "-",
            // The script then execs the VM (no shell in between), which stops gracefully on SIGTERM.
            ["RUNNING_UNDER_SYSTEMD"] = "true",
        };
        var node = ManagedProcess.Start("rabbitmq", server, [], environment, log, workingDirectory: folder, echo: false);
        await Executables.WaitForTcpAsync(port, StartTimeout, node, "rabbitmq-server", cancellationToken);
        return new ProvisionedService(ConnectionStrings.ForServer(resource, "127.0.0.1", port, password), server, $"tcp://127.0.0.1:{port}",
            [(node, ProcessTree.SigTerm), (epmd, ProcessTree.SigTerm)]);
    }

    /// <summary>A password generated on the first run and kept with the data, which it protects.</summary>
    private static string StoredPassword(string folder)
    {
        var file = Path.Combine(folder, "password");
        if (!File.Exists(file))
        {
            File.WriteAllText(file, RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 24));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }
        return File.ReadAllText(file).Trim();
    }

    private static async Task<bool> DockerReachableAsync(CancellationToken cancellationToken)
    {
        if (Executables.Find("docker") is null)
        {
            return false;
        }
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            await Executables.RunAsync("docker", ["info", "--format", "{{.ServerVersion}}"], timeout.Token);
            return true;
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>
    /// The container runs attached (<c>docker run --rm</c>, not <c>-d</c>): its log is the process's output, and the
    /// signal that stops the docker client is passed on to the container.
    /// </summary>
    private async Task<ProvisionedService> StartContainerAsync(BackingResource resource, string folder, LogTail log, CancellationToken cancellationToken)
    {
        var image = configuration[$"AppHost:Images:{resource.Name}"] ?? resource.Image;
        var password = resource.PasswordParameter is null ? null : StoredPassword(folder);
        var port = Executables.FreeLoopbackPort();
        var volume = Path.Combine(folder, "container");
        Directory.CreateDirectory(volume);
        var arguments = new List<string> { "run", "--rm", "--name", $"wave-apphost-{resource.Name}-{port}", "-p", $"127.0.0.1:{port}:{resource.TargetPort}", "-v", $"{volume}:{resource.DataPath}" };
        foreach (var (key, value) in ContainerSpec.Environment(resource, _ => password!))
        {
            arguments.AddRange(["-e", $"{key}={value}"]);
        }
        arguments.Add(image);
        arguments.AddRange(ContainerSpec.Args(resource));
        var process = ManagedProcess.Start(resource.Name, "docker", arguments, new Dictionary<string, string?>(), log, echo: false);
        await Executables.WaitForTcpAsync(port, StartTimeout, process, $"the {image} container", cancellationToken);
        return new ProvisionedService(ConnectionStrings.ForServer(resource, "127.0.0.1", port, password), image, $"tcp://127.0.0.1:{port}",
            [(process, ProcessTree.SigTerm)]);
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}

public sealed class MissingBackingServiceException(string message) : Exception(message);
