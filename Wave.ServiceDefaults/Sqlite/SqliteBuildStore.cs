using System.Data.Common;

using Microsoft.Data.Sqlite;

using Wave.Core.Persistence;
using Wave.ServiceDefaults.Postgres;

namespace Wave.ServiceDefaults.Sqlite;

/// <summary>
/// The embedded mode's build store: one SQLite file in WAL mode (readers never wait for the writer, so logs stay
/// readable while a build appends). Writers that read first open IMMEDIATE transactions, which SQLite serialises;
/// a busy database is retried by Microsoft.Data.Sqlite up to the command timeout.
/// </summary>
public sealed class SqliteBuildStore : SqlBuildStore
{
    private static readonly IReadOnlyList<SqlMigration> Scripts = SqlMigrationResources.Load("sqlite-migrations");

    private readonly string _connectionString;

    public SqliteBuildStore(string databasePath, BuildStoreOptions options) : base(options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        DatabasePath = Path.GetFullPath(databasePath);
        Directory.CreateDirectory(Path.GetDirectoryName(DatabasePath)!);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
            ForeignKeys = true,
        }.ToString();
    }

    public string DatabasePath { get; }

    protected override IReadOnlyList<SqlMigration> Migrations => Scripts;

    protected override string LockRowClause => "";

    protected override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            // WAL is a property of the file (it sticks once set); busy_timeout belongs to each connection.
            await ExecuteAsync(connection, null, "PRAGMA busy_timeout = 30000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL", [], cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    protected override Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: false));

    protected override Task LockMigrationsAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        Task.CompletedTask; // the IMMEDIATE transaction already holds the database's write lock

    protected override object ToDbTimestamp(DateTimeOffset value) => (value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    protected override DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal) =>
        new(DateTimeOffset.UnixEpoch.UtcTicks + reader.GetInt64(ordinal) * 10, TimeSpan.Zero);
}
