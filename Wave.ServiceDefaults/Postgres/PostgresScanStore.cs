using System.Data.Common;

using Npgsql;

using Wave.Core.Persistence;

namespace Wave.ServiceDefaults.Postgres;

/// <summary>The distributed mode's scan records, in the build store's database and migrated by it.</summary>
public sealed class PostgresScanStore(NpgsqlDataSource dataSource, PostgresBuildStore builds) : SqlScanStore(builds.EnsureSchemaAsync)
{
    protected override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await dataSource.OpenConnectionAsync(cancellationToken);

    protected override object ToDbTimestamp(DateTimeOffset value) => value.ToUniversalTime();

    protected override DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal) => reader.GetFieldValue<DateTimeOffset>(ordinal);
}
