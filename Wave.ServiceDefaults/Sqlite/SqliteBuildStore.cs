using System.Data.Common;

using Microsoft.Data.Sqlite;

using Wave.Core.Persistence;
using Wave.ServiceDefaults.Postgres;

using static Wave.Core.Persistence.SqlCommands;

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

    protected override Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => OpenConnectionAsync(cancellationToken);

    /// <summary>
    /// A connection to the file with this store's settings, also for the tables of other stores in it (container
    /// records), so that every writer commits the same way: WAL, <c>synchronous = NORMAL</c> (durable through a crash
    /// of the process without an fsync per commit), and the busy timeout.
    /// </summary>
    public async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken)
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

    protected override object ToDbTimestamp(DateTimeOffset value) => ToMicroseconds(value);

    protected override DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal) => ReadMicroseconds(reader, ordinal);

    /// <summary>Timestamps in the file: microseconds since the Unix epoch, UTC.</summary>
    public static long ToMicroseconds(DateTimeOffset value) => (value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    public static DateTimeOffset ReadMicroseconds(DbDataReader reader, int ordinal) =>
        new(DateTimeOffset.UnixEpoch.UtcTicks + reader.GetInt64(ordinal) * 10, TimeSpan.Zero);
}
