using System.Data.Common;

using Npgsql;

using Wave.Core.Persistence;

using static Wave.Core.Persistence.SqlCommands;

namespace Wave.ServiceDefaults.Postgres;

/// <summary>
/// The distributed mode's build store. Migrations (Postgres/Migrations/*.sql, embedded) run in one transaction that
/// first takes a transaction-scoped advisory lock, so that Api and Builder replicas starting together apply each
/// script exactly once and the losers simply find them recorded in schema_migrations.
/// </summary>
public sealed class PostgresBuildStore(NpgsqlDataSource dataSource, BuildStoreOptions options) : SqlBuildStore(options)
{
    /// <summary>The advisory lock key of Wave's migrations (an arbitrary constant: "wave" in ASCII).</summary>
    public const long MigrationLockKey = 0x77617665;

    private static readonly IReadOnlyList<SqlMigration> Scripts = SqlMigrationResources.Load("postgres-migrations");

    protected override IReadOnlyList<SqlMigration> Migrations => Scripts;

    protected override string LockRowClause => " FOR UPDATE";

    protected override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await dataSource.OpenConnectionAsync(cancellationToken);

    protected override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await connection.BeginTransactionAsync(cancellationToken);

    protected override async Task LockMigrationsAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, "SELECT pg_advisory_xact_lock(@key)", [("key", MigrationLockKey)]);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    protected override object ToDbTimestamp(DateTimeOffset value) => value.ToUniversalTime();

    protected override DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal) => reader.GetFieldValue<DateTimeOffset>(ordinal);
}
