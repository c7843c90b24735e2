using System.Data.Common;

using Npgsql;

using Wave.Core.Mirrors;

namespace Wave.ServiceDefaults.Postgres;

/// <summary>The distributed mode's mirror records, in the build store's database and migrated by it.</summary>
public sealed class PostgresMirrorStore(NpgsqlDataSource dataSource, PostgresBuildStore builds) : SqlMirrorStore(builds.EnsureSchemaAsync)
{
    protected override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await dataSource.OpenConnectionAsync(cancellationToken);

    protected override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await connection.BeginTransactionAsync(cancellationToken);

    protected override string LockRowClause => " FOR UPDATE";

    protected override object ToDbTimestamp(DateTimeOffset value) => value.ToUniversalTime();

    protected override DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal) => reader.GetFieldValue<DateTimeOffset>(ordinal);
}
