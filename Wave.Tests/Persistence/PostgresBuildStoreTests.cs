using System.Runtime.CompilerServices;

using Npgsql;

using Wave.Core.Persistence;
using Wave.ServiceDefaults.Postgres;
using Wave.Tests.Infrastructure.Persistence;

namespace Wave.Tests.Persistence;

/// <summary>The store contract against a real Postgres, each test in a schema of its own.</summary>
public sealed class PostgresBuildStoreTests(PostgresFixture postgres) : BuildStoreContract, IAsyncDisposable
{
    private readonly List<NpgsqlDataSource> _dataSources = [];
    private readonly ConditionalWeakTable<SqlBuildStore, string> _connectionStrings = [];

    protected override async Task<SqlBuildStore> CreateStoreAsync(BuildStoreOptions? options = null, SqlBuildStore? shareWith = null)
    {
        var server = await postgres.GetAsync();
        var connectionString = shareWith is null
            ? await server.CreateSchemaAsync(Token)
            : _connectionStrings.TryGetValue(shareWith, out var shared) ? shared : throw new InvalidOperationException("unknown store");
        // A data source (connection pool) per store, as separate processes would have.
        var dataSource = NpgsqlDataSource.Create(connectionString);
        _dataSources.Add(dataSource);
        var store = new PostgresBuildStore(dataSource, options ?? new BuildStoreOptions());
        _connectionStrings.Add(store, connectionString);
        return store;
    }

    protected override async Task<int> CountMigrationRowsAsync(SqlBuildStore store)
    {
        Assert.True(_connectionStrings.TryGetValue(store, out var connectionString));
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM schema_migrations");
        return Convert.ToInt32(await command.ExecuteScalarAsync(Token), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Migrations_are_tracked_by_version_in_schema_migrations()
    {
        var store = await CreateStoreAsync();
        var embedded = SqlMigrationResources.Load("postgres-migrations").Select(m => m.Version).ToList();
        Assert.Contains("0001_builds", embedded);
        Assert.Contains("0002_build_jobs", embedded);
        Assert.Contains("0003_container_requests", embedded);
        Assert.Contains("0004_build_leases", embedded);
        Assert.Equal(embedded.Count, await store.MigrateAsync(Token));
        Assert.True(_connectionStrings.TryGetValue(store, out var connectionString));
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var command = dataSource.CreateCommand("SELECT version FROM schema_migrations ORDER BY version");
        await using var reader = await command.ExecuteReaderAsync(Token);
        var applied = new List<string>();
        while (await reader.ReadAsync(Token))
        {
            applied.Add(reader.GetString(0));
        }
        Assert.Equal(embedded, applied);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var dataSource in _dataSources)
        {
            await dataSource.DisposeAsync();
        }
    }
}
