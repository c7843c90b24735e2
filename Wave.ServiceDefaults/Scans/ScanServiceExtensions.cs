using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

using Wave.Core.Persistence;
using Wave.Core.Scans;
using Wave.ServiceDefaults.Postgres;
using Wave.ServiceDefaults.Scans;
using Wave.ServiceDefaults.Sqlite;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Container security scans (<c>Wave:Scan:*</c>): the scan records in the build store's database (Postgres or the
/// SQLite file; migration 0006 is their table), the service that starts and reports scans, and the worker that runs
/// them in this process. Safe to call from each service of one host.
/// </summary>
public static class ScanServiceExtensions
{
    private sealed class ScansMarker;

    private sealed class ScanStoreMarker;

    /// <summary>The scan records alone (what the registry proxy reads to hold back containers whose scan is required).</summary>
    public static TBuilder AddWaveScanStore<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        if (builder.Services.Any(d => d.ServiceType == typeof(ScanStoreMarker)))
        {
            return builder;
        }
        builder.Services.AddSingleton<ScanStoreMarker>();
        builder.AddWaveBuildStore();
        builder.Services.TryAddSingleton<SqlScanStore>(services => services.GetRequiredService<SqlBuildStore>() switch
        {
            PostgresBuildStore postgres => new PostgresScanStore(services.GetRequiredService<Npgsql.NpgsqlDataSource>(), postgres),
            SqliteBuildStore sqlite => new SqliteScanStore(sqlite),
            var other => throw new InvalidOperationException($"no scan store for a {other.GetType().Name}"),
        });
        builder.Services.TryAddSingleton<IScanStore>(services => services.GetRequiredService<SqlScanStore>());
        return builder;
    }

    public static TBuilder AddWaveScans<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        if (builder.Services.Any(d => d.ServiceType == typeof(ScansMarker)))
        {
            return builder;
        }
        builder.Services.AddSingleton<ScansMarker>();
        builder.AddWaveCore();
        builder.AddWaveScanStore();
        builder.Services.Configure<ScanOptions>(builder.Configuration.GetSection(ScanOptions.Section));
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<VulnerabilityDatabaseSource>();
        builder.Services.TryAddSingleton<ScanRunner>();
        builder.Services.TryAddSingleton<ContainerScanService>();
        builder.Services.AddHostedService<ScanWorker>();
        return builder;
    }
}
