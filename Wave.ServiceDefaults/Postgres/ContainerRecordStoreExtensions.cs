using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

using Wave.Core.Persistence;
using Wave.Core.Requests;
using Wave.ServiceDefaults.Postgres;
using Wave.ServiceDefaults.Sqlite;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Container request records, in the same database as the build records (Postgres when ConnectionStrings:postgres is
/// set, the SQLite file otherwise): registers the build store too, whose migrations (0003 is this table) run at start-up.
/// </summary>
public static class ContainerRecordStoreExtensions
{
    public static TBuilder AddWaveContainerRecords<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.AddWaveBuildStore();
        builder.Services.TryAddSingleton<SqlContainerRecordStore>(services => services.GetRequiredService<SqlBuildStore>() switch
        {
            PostgresBuildStore postgres => new PostgresContainerRecordStore(services.GetRequiredService<Npgsql.NpgsqlDataSource>(), postgres),
            SqliteBuildStore sqlite => new SqliteContainerRecordStore(sqlite),
            var other => throw new InvalidOperationException($"no container record store for a {other.GetType().Name}"),
        });
        builder.Services.TryAddSingleton<IContainerRecordStore>(services => services.GetRequiredService<SqlContainerRecordStore>());
        return builder;
    }
}
