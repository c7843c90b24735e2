using System.Data.Common;

using Wave.Core.Persistence;

namespace Wave.ServiceDefaults.Sqlite;

/// <summary>The embedded mode's scan records: a table in the build store's SQLite file, migrated by it and opened with its connection settings.</summary>
public sealed class SqliteScanStore(SqliteBuildStore builds) : SqlScanStore(builds.EnsureSchemaAsync)
{
    protected override Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => builds.OpenConnectionAsync(cancellationToken);

    protected override object ToDbTimestamp(DateTimeOffset value) => SqliteBuildStore.ToMicroseconds(value);

    protected override DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal) => SqliteBuildStore.ReadMicroseconds(reader, ordinal);
}
