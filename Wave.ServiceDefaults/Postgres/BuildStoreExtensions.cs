using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

using Npgsql;

using Wave.Core.Persistence;
using Wave.ServiceDefaults.Postgres;
using Wave.ServiceDefaults.Sqlite;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Where build records live: Postgres when Aspire gave ConnectionStrings:wave or ConnectionStrings:postgres, a SQLite file otherwise. Either
/// way the schema is migrated when the host starts (and, should a caller come first, on first use).
/// </summary>
public static class BuildStoreExtensions
{
    /// <summary>
    /// The Aspire resource name of the Postgres server, ConnectionStrings:postgres (ConnectionStrings__postgres), and the
    /// name of its health check on /health whichever connection string is used.
    /// </summary>
    public const string PostgresConnectionName = "postgres";

    /// <summary>
    /// The database resource an AppHost hands out for <c>AddPostgres("postgres").AddDatabase("wave")</c>:
    /// ConnectionStrings:wave. It names the database itself, so it wins over ConnectionStrings:postgres when both are set.
    /// </summary>
    public const string WaveDatabaseConnectionName = "wave";

    /// <summary>Folder of the embedded mode's files (default <c>.wave</c>); the database is <c>wave.db</c> in it.</summary>
    public const string DataDirectoryKey = "Wave:DataDirectory";

    /// <summary>Overrides the SQLite file's path.</summary>
    public const string SqlitePathKey = "Wave:Build:SqlitePath";

    public const string DefaultDataDirectory = ".wave";

    private sealed class BuildStoreMarker;

    /// <summary>"wave" when ConnectionStrings:wave is set, else "postgres" when that is, else null (SQLite).</summary>
    public static string? PostgresConnectionNameOf(IConfiguration configuration) =>
        !string.IsNullOrWhiteSpace(configuration.GetConnectionString(WaveDatabaseConnectionName)) ? WaveDatabaseConnectionName
        : !string.IsNullOrWhiteSpace(configuration.GetConnectionString(PostgresConnectionName)) ? PostgresConnectionName
        : null;

    /// <summary>Safe to call from each service of one host: the second call changes nothing.</summary>
    public static TBuilder AddWaveBuildStore<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        if (builder.Services.Any(d => d.ServiceType == typeof(BuildStoreMarker)))
        {
            return builder;
        }
        builder.Services.AddSingleton<BuildStoreMarker>();
        var options = new BuildStoreOptions();
        builder.Configuration.GetSection(BuildStoreOptions.Section).Bind(options);
        builder.Services.TryAddSingleton(options);
        var connectionName = PostgresConnectionNameOf(builder.Configuration);
        if (connectionName is null)
        {
            var path = builder.Configuration[SqlitePathKey]
                ?? Path.Combine(builder.Configuration[DataDirectoryKey] ?? DefaultDataDirectory, "wave.db");
            builder.Services.TryAddSingleton(_ => new SqliteBuildStore(path, options));
            builder.Services.TryAddSingleton<SqlBuildStore>(services => services.GetRequiredService<SqliteBuildStore>());
        }
        else
        {
            // Aspire.Npgsql: one NpgsqlDataSource, its health check (renamed to the resource), Npgsql's own tracing and
            // metrics when telemetry is exported.
            var exports = ServiceDefaultsExtensions.ExportsTelemetry(builder.Configuration);
            builder.AddNpgsqlDataSource(connectionName, settings =>
            {
                settings.DisableTracing = !exports;
                settings.DisableMetrics = !exports;
            });
            builder.RenameHealthCheck("PostgreSql", PostgresConnectionName);
            builder.Services.TryAddSingleton(services => new PostgresBuildStore(services.GetRequiredService<NpgsqlDataSource>(), options));
            builder.Services.TryAddSingleton<SqlBuildStore>(services => services.GetRequiredService<PostgresBuildStore>());
        }
        builder.Services.TryAddSingleton<IBuildStore>(services => services.GetRequiredService<SqlBuildStore>());
        builder.Services.AddHostedService<BuildStoreMigration>();
        return builder;
    }
}

/// <summary>Applies the build store's migrations when the host starts, so that a bad database stops the start.</summary>
internal sealed class BuildStoreMigration(SqlBuildStore store) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => store.MigrateAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
