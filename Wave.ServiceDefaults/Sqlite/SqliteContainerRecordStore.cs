using System.Data.Common;

using Microsoft.Data.Sqlite;

using Wave.Core.Persistence;

namespace Wave.ServiceDefaults.Sqlite;

/// <summary>The embedded mode's container records: a table in the build store's SQLite file, migrated by it.</summary>
public sealed class SqliteContainerRecordStore(SqliteBuildStore builds) : SqlContainerRecordStore(builds.EnsureSchemaAsync)
{
    private readonly string _connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = builds.DatabasePath,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Cache = SqliteCacheMode.Private,
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString();

    protected override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            // The build store set WAL on the file; busy_timeout and synchronous belong to each connection. With WAL,
            // NORMAL keeps every commit through a crash of the process (only a power loss can take the last ones),
            // without an fsync per container request, which capped requests at a few hundred per second.
            await using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA busy_timeout = 30000; PRAGMA synchronous = NORMAL";
            await command.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    protected override object ToDbTimestamp(DateTimeOffset value) => (value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    protected override DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal) =>
        new(DateTimeOffset.UnixEpoch.UtcTicks + reader.GetInt64(ordinal) * 10, TimeSpan.Zero);
}
