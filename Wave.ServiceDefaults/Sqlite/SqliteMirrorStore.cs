using System.Data.Common;

using Microsoft.Data.Sqlite;

using Wave.Core.Mirrors;

namespace Wave.ServiceDefaults.Sqlite;

/// <summary>The embedded mode's mirror records: a table in the build store's SQLite file, migrated by it and opened with its settings.</summary>
public sealed class SqliteMirrorStore(SqliteBuildStore builds) : SqlMirrorStore(builds.EnsureSchemaAsync)
{
    protected override Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => builds.OpenConnectionAsync(cancellationToken);

    // IMMEDIATE: SQLite serialises writers that read first, as the build store's do.
    protected override Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: false));

    protected override string LockRowClause => "";

    protected override object ToDbTimestamp(DateTimeOffset value) => SqliteBuildStore.ToMicroseconds(value);

    protected override DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal) => SqliteBuildStore.ReadMicroseconds(reader, ordinal);
}
