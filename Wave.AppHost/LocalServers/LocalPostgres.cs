using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

using Microsoft.Extensions.Hosting;

using Npgsql;

namespace Wave.AppHost.LocalServers;

/// <summary>
/// A private PostgreSQL cluster from the server binaries on PATH, as an Aspire executable resource with the connection
/// string of Aspire's PostgresServerResource (<c>Host=…;Port=…;Username=postgres;Password=…</c>). Aspire has no
/// executable form of Postgres: hence this class. As root it runs as the postgres user (postgres refuses root).
/// </summary>
public sealed class LocalPostgresResource(string name, string command, string workingDirectory, ParameterResource password)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public const string PrimaryEndpointName = "tcp";
    public const string UserName = "postgres";

    private readonly Dictionary<string, string> _databases = new(StringComparer.Ordinal);

    public EndpointReference PrimaryEndpoint => new(this, PrimaryEndpointName);

    public ParameterResource PasswordParameter { get; } = password;

    /// <summary>Database resource name → database name, created when the server is ready.</summary>
    public IReadOnlyDictionary<string, string> Databases => _databases;

    internal void AddDatabase(string resourceName, string databaseName) => _databases.Add(resourceName, databaseName);

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Host={PrimaryEndpoint.Property(EndpointProperty.Host)};Port={PrimaryEndpoint.Property(EndpointProperty.Port)};Username={UserName};Password={PasswordParameter}");
}

/// <summary>A database of a <see cref="LocalPostgresResource"/>, like Aspire's PostgresDatabaseResource: the server's connection string with <c>;Database=…</c>.</summary>
public sealed class LocalPostgresDatabaseResource(string name, string databaseName, LocalPostgresResource parent)
    : Resource(name), IResourceWithParent<LocalPostgresResource>, IResourceWithConnectionString
{
    public string DatabaseName { get; } = databaseName;

    public LocalPostgresResource Parent { get; } = parent;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{Parent};Database={DatabaseName}");
}

public static class LocalPostgresExtensions
{
    private const string RunAsUser = "postgres";

    /// <summary>
    /// initdb on the first run (scram-sha-256 with the password kept beside the cluster), then the postgres binary itself
    /// (not pg_ctl, which daemonizes) on a loopback port DCP allocates, without a unix socket.
    /// </summary>
    public static IResourceBuilder<LocalPostgresResource> AddLocalPostgres(this IDistributedApplicationBuilder builder, string name, string dataDirectory)
    {
        var postgres = ServerFiles.Require("postgres", "postgresql");
        var initdb = ServerFiles.Require("initdb", "postgresql");
        var asPostgresUser = Environment.UserName == "root";
        var folder = ServerFiles.DataFolder(dataDirectory, name);
        if (asPostgresUser)
        {
            folder = ReachableByPostgres(folder);
        }
        var cluster = Path.Combine(folder, "cluster");
        var server = new LocalPostgresResource(name, asPostgresUser ? "setpriv" : postgres, folder, ServerFiles.PasswordParameter(name, folder));

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(server, async (_, ct) => connectionString = await server.ConnectionStringExpression.GetValueAsync(ct));
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(server, async (_, ct) =>
        {
            if (!File.Exists(Path.Combine(cluster, "PG_VERSION")))
            {
                await InitializeClusterAsync(initdb, cluster, folder, await server.PasswordParameter.GetValueAsync(ct) ?? "", asPostgresUser, ct);
            }
        });
        builder.Eventing.Subscribe<ResourceReadyEvent>(server, async (_, ct) =>
        {
            await using var connection = new NpgsqlConnection(connectionString + ";Database=postgres");
            await connection.OpenAsync(ct);
            foreach (var database in server.Databases.Values)
            {
                await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection);
                exists.Parameters.AddWithValue(database);
                if (await exists.ExecuteScalarAsync(ct) is null)
                {
                    await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
                    await create.ExecuteNonQueryAsync(ct);
                }
            }
        });

        var healthCheckKey = $"{name}_check";
        builder.Services.AddHealthChecks().AddNpgSql(_ => (connectionString ?? throw new InvalidOperationException("the connection string is not known yet")) + ";Database=postgres",
            name: healthCheckKey);

        return builder.AddResource(server)
            .WithEndpoint(name: LocalPostgresResource.PrimaryEndpointName, scheme: "tcp", isProxied: false)
            .WithArgs(context =>
            {
                if (asPostgresUser)
                {
                    foreach (var argument in AsPostgresUser(postgres))
                    {
                        context.Args.Add(argument);
                    }
                }
                context.Args.Add("-D");
                context.Args.Add(cluster);
                context.Args.Add("-p");
                context.Args.Add(server.PrimaryEndpoint.Property(EndpointProperty.TargetPort));
                context.Args.Add("-c");
                context.Args.Add("listen_addresses=127.0.0.1");
                // No unix socket: its path would have to stay under 108 characters.
                context.Args.Add("-c");
                context.Args.Add("unix_socket_directories=");
            })
            .WithIconName("DatabaseMultiple")
            .WithHealthCheck(healthCheckKey)
            .ExcludeFromManifest();
    }

    /// <summary>Like Aspire's AddDatabase: a child resource, created on the server once it is ready, with a health check of its own.</summary>
    public static IResourceBuilder<LocalPostgresDatabaseResource> AddDatabase(this IResourceBuilder<LocalPostgresResource> builder, string name, string? databaseName = null)
    {
        var database = new LocalPostgresDatabaseResource(name, databaseName ?? name, builder.Resource);
        builder.Resource.AddDatabase(name, database.DatabaseName);

        string? connectionString = null;
        builder.ApplicationBuilder.Eventing.Subscribe<ConnectionStringAvailableEvent>(database, async (_, ct) =>
            connectionString = await database.ConnectionStringExpression.GetValueAsync(ct));
        // Aspire passes a container's state on to its child resources, not an executable's: the database mirrors its
        // server's here, so that its health check runs (and WaitFor(database) ends) once the server runs.
        builder.ApplicationBuilder.Eventing.Subscribe<InitializeResourceEvent>(database, (initialize, cancellationToken) =>
        {
            var stopping = initialize.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
            _ = Task.Run(async () =>
            {
                try
                {
                    await foreach (var update in initialize.Notifications.WatchAsync(stopping))
                    {
                        if (ReferenceEquals(update.Resource, database.Parent))
                        {
                            await initialize.Notifications.PublishUpdateAsync(database, state => state with
                            {
                                State = update.Snapshot.State,
                                StartTimeStamp = update.Snapshot.StartTimeStamp,
                                StopTimeStamp = update.Snapshot.StopTimeStamp,
                            });
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                }
            }, stopping);
            return Task.CompletedTask;
        });

        var healthCheckKey = $"{name}_check";
        builder.ApplicationBuilder.Services.AddHealthChecks().AddNpgSql(_ => connectionString ?? throw new InvalidOperationException("the connection string is not known yet"),
            name: healthCheckKey);
        return builder.ApplicationBuilder.AddResource(database).WithHealthCheck(healthCheckKey).ExcludeFromManifest();
    }

    private static IEnumerable<string> AsPostgresUser(string binary) =>
        ["--reuid=" + RunAsUser, "--regid=" + RunAsUser, "--init-groups", "--", binary];

    private static async Task InitializeClusterAsync(string initdb, string cluster, string folder, string password, bool asPostgresUser, CancellationToken ct)
    {
        Directory.CreateDirectory(cluster);
        // initdb reads the superuser's password from a file: one only its user can read, removed right after.
        var passwordFile = Path.Combine(folder, ".initdb-password");
        ServerFiles.WritePrivate(passwordFile, password);
        try
        {
            if (asPostgresUser)
            {
                await RunAsync("chown", ["-R", $"{RunAsUser}:{RunAsUser}", folder], ct);
            }
            string[] arguments = ["-D", cluster, "-U", LocalPostgresResource.UserName, "--auth=scram-sha-256", $"--pwfile={passwordFile}", "-E", "UTF8"];
            await RunAsync(asPostgresUser ? "setpriv" : initdb, asPostgresUser ? [.. AsPostgresUser(initdb), .. arguments] : arguments, ct);
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    /// <summary>
    /// The postgres user must be able to walk down to its cluster: the data folders are opened for that (search only,
    /// not listing); when a parent it does not own is closed (a home folder such as /root), the cluster goes to a folder
    /// of its own under /var/tmp, named after the data folder so that it is found again on the next run.
    /// </summary>
    private static string ReachableByPostgres(string folder)
    {
        if (OperatingSystem.IsWindows())
        {
            return folder;
        }
        foreach (var dir in new[] { folder, Path.GetDirectoryName(folder)! })
        {
            File.SetUnixFileMode(dir, File.GetUnixFileMode(dir) | UnixFileMode.OtherExecute | UnixFileMode.GroupExecute);
        }
        for (var dir = Directory.GetParent(Path.GetDirectoryName(folder)!); dir is not null; dir = dir.Parent)
        {
            if ((File.GetUnixFileMode(dir.FullName) & UnixFileMode.OtherExecute) == 0)
            {
                var elsewhere = Path.Combine("/var/tmp", "wave-apphost-postgres-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(folder)))[..12]);
                Directory.CreateDirectory(elsewhere);
                return elsewhere;
            }
        }
        return folder;
    }

    private static async Task RunAsync(string fileName, IReadOnlyList<string> arguments, CancellationToken ct)
    {
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync(ct);
        var errors = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(fileName)} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await errors}{await output}");
        }
    }
}
