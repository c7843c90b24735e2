using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

using Wave.Core.Mirrors;
using Wave.Core.Persistence;
using Wave.ServiceDefaults.Postgres;
using Wave.ServiceDefaults.Sqlite;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Mirror records, in the same database as the build records (Postgres when ConnectionStrings:postgres is set, the
/// SQLite file otherwise): registers the build store too, whose migrations (0007 is this table) run at start-up.
/// </summary>
public static class MirrorStoreExtensions
{
    public static TBuilder AddWaveMirrorStore<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.AddWaveBuildStore();
        builder.Services.TryAddSingleton<SqlMirrorStore>(services => services.GetRequiredService<SqlBuildStore>() switch
        {
            PostgresBuildStore postgres => new PostgresMirrorStore(services.GetRequiredService<Npgsql.NpgsqlDataSource>(), postgres),
            SqliteBuildStore sqlite => new SqliteMirrorStore(sqlite),
            var other => throw new InvalidOperationException($"no mirror store for a {other.GetType().Name}"),
        });
        builder.Services.TryAddSingleton<IMirrorStore>(services => services.GetRequiredService<SqlMirrorStore>());
        return builder;
    }
}
