using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;

using Npgsql;

using Wave.Core.Persistence;
using Wave.ServiceDefaults.Postgres;
using Wave.ServiceDefaults.Sqlite;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Where build records live: Postgres when Aspire gave ConnectionStrings:postgres, a SQLite file otherwise. Either
/// way the schema is migrated when the host starts (and, should a caller come first, on first use).
/// </summary>
public static class BuildStoreExtensions
{
    /// <summary>The Aspire resource name of Postgres: ConnectionStrings:postgres (ConnectionStrings__postgres).</summary>
    public const string PostgresConnectionName = "postgres";

    /// <summary>Folder of the embedded mode's files (default <c>.wave</c>); the database is <c>wave.db</c> in it.</summary>
    public const string DataDirectoryKey = "Wave:DataDirectory";

    /// <summary>Overrides the SQLite file's path.</summary>
    public const string SqlitePathKey = "Wave:Builds:SqlitePath";

    public const string DefaultDataDirectory = ".wave";

    public static TBuilder AddWaveBuildStore<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        // Once per host: the Api, the proxy and the Builder may share one (embedded mode), and a second Postgres
        // health check of the same name would stop the host.
        if (builder.Services.Any(d => d.ServiceType == typeof(SqlBuildStore)))
        {
            return builder;
        }
        var options = new BuildStoreOptions();
        builder.Configuration.GetSection(BuildStoreOptions.Section).Bind(options);
        builder.Services.TryAddSingleton(options);
        var connectionString = builder.Configuration.GetConnectionString(PostgresConnectionName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            var path = builder.Configuration[SqlitePathKey]
                ?? Path.Combine(builder.Configuration[DataDirectoryKey] ?? DefaultDataDirectory, "wave.db");
            builder.Services.TryAddSingleton(_ => new SqliteBuildStore(path, options));
            builder.Services.TryAddSingleton<SqlBuildStore>(services => services.GetRequiredService<SqliteBuildStore>());
        }
        else
        {
            builder.AddNpgsqlDataSource(PostgresConnectionName);
            builder.Services.TryAddSingleton(services => new PostgresBuildStore(services.GetRequiredService<NpgsqlDataSource>(), options));
            builder.Services.TryAddSingleton<SqlBuildStore>(services => services.GetRequiredService<PostgresBuildStore>());
        }
        builder.Services.TryAddSingleton<IBuildStore>(services => services.GetRequiredService<SqlBuildStore>());
        builder.Services.AddHostedService<BuildStoreMigration>();
        return builder;
    }

    /// <summary>
    /// Aspire's client integration, by the same name: an <see cref="NpgsqlDataSource"/> singleton for
    /// ConnectionStrings:NAME and a SELECT 1 health check named NAME on /health.
    /// </summary>
    public static TBuilder AddNpgsqlDataSource<TBuilder>(this TBuilder builder, string connectionName) where TBuilder : IHostApplicationBuilder
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);
        var connectionString = builder.Configuration.GetConnectionString(connectionName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException(
                $"no connection string for Postgres '{connectionName}': set ConnectionStrings:{connectionName} (ConnectionStrings__{connectionName})");
        }
        builder.Services.TryAddSingleton(_ => NpgsqlDataSource.Create(connectionString));
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            connectionName,
            services => new PostgresHealthCheck(services.GetRequiredService<NpgsqlDataSource>()),
            failureStatus: HealthStatus.Unhealthy,
            tags: ["ready"],
            timeout: TimeSpan.FromSeconds(10)));
        return builder;
    }
}

/// <summary>Applies the build store's migrations when the host starts, so that a bad database stops the start.</summary>
internal sealed class BuildStoreMigration(SqlBuildStore store) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => store.MigrateAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
