using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

using Wave.Core.Mirrors;
using Wave.Core.Persistence;
using Wave.Core.Security;
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
        KeepCredentialsKeyWithTheRecords(builder);
        return builder;
    }

    private sealed class KeyFileMarker;

    /// <summary>
    /// A mirror's job keeps the request's Platform logins sealed, as long as the record lives. With the state in process
    /// memory (no Redis) and no <c>Wave:Security:CredentialsKey</c>, the sealing key would die with the process, and an
    /// interrupted copy could not resume after a restart: the key is then kept in the data directory, beside the
    /// records (<see cref="CredentialsKeyFile"/>).
    /// </summary>
    private static void KeepCredentialsKeyWithTheRecords(IHostApplicationBuilder builder)
    {
        if (builder.Services.Any(d => d.ServiceType == typeof(KeyFileMarker))
            || !string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(StateExtensions.RedisConnectionName)))
        {
            return;
        }
        builder.Services.AddSingleton<KeyFileMarker>();
        var path = Path.Combine(builder.Configuration[BuildStoreExtensions.DataDirectoryKey] ?? BuildStoreExtensions.DefaultDataDirectory, CredentialsKeyFile.FileName);
        builder.Services.PostConfigure<CredentialSealerOptions>(options =>
        {
            if (string.IsNullOrWhiteSpace(options.CredentialsKey))
            {
                options.CredentialsKey = CredentialsKeyFile.ReadOrCreate(path);
            }
        });
    }
}
