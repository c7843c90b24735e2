using System.Runtime.CompilerServices;

using Microsoft.Data.Sqlite;

using Wave.Core.Persistence;
using Wave.ServiceDefaults.Sqlite;

namespace Wave.Tests.Persistence;

/// <summary>The store contract against SQLite files, each test with a file of its own.</summary>
public sealed class SqliteBuildStoreTests : BuildStoreContract, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("wave-sqlite-").FullName;
    private readonly ConditionalWeakTable<SqlBuildStore, string> _paths = [];

    protected override Task<SqlBuildStore> CreateStoreAsync(BuildStoreOptions? options = null, SqlBuildStore? shareWith = null)
    {
        var path = shareWith is null
            ? Path.Combine(_directory, Guid.NewGuid().ToString("N"), "wave.db")
            : _paths.TryGetValue(shareWith, out var shared) ? shared : throw new InvalidOperationException("unknown store");
        var store = new SqliteBuildStore(path, options ?? new BuildStoreOptions());
        _paths.Add(store, path);
        return Task.FromResult<SqlBuildStore>(store);
    }

    protected override async Task<int> CountMigrationRowsAsync(SqlBuildStore store)
    {
        await using var connection = new SqliteConnection($"Data Source={((SqliteBuildStore)store).DatabasePath}");
        await connection.OpenAsync(Token);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM schema_migrations";
        return Convert.ToInt32(await command.ExecuteScalarAsync(Token), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task The_database_file_is_in_wal_mode_and_created_with_its_folder()
    {
        var store = (SqliteBuildStore)await CreateStoreAsync();
        await store.CreateAsync(Record(), Token);

        Assert.True(File.Exists(store.DatabasePath));
        await using var connection = new SqliteConnection($"Data Source={store.DatabasePath}");
        await connection.OpenAsync(Token);
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", await command.ExecuteScalarAsync(Token) as string);
    }

    [Fact]
    public async Task Records_survive_a_new_store_over_the_same_file()
    {
        var store = await CreateStoreAsync();
        await store.CreateAsync(Record(), Token);
        await store.AppendLogAsync(Record().BuildId, "kept\n", Token);

        var reopened = await CreateStoreAsync(shareWith: store);

        Assert.Equal(Record().BuildId, (await reopened.FindAsync(Record().BuildId, Token))?.BuildId);
        Assert.Equal("kept\n", (await reopened.ReadLogAsync(Record().BuildId, 0, Token))?.Text);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
