using System.Data.Common;
using System.Text;
using System.Text.Json;

using Wave.Core.Builds;

using static Wave.Core.Persistence.SqlCommands;

namespace Wave.Core.Persistence;

/// <summary>One migration: applied in <see cref="Version"/> order, each exactly once per database.</summary>
public sealed record SqlMigration(string Version, string Script);

/// <summary>
/// <see cref="IBuildStore"/> over plain ADO.NET, shared by the Postgres and SQLite stores: both speak the same SQL for
/// every statement here, and differ only in how a connection opens, how writers are serialised, and how a timestamp
/// is stored. Each state change is a single conditional UPDATE whose affected-row count says whether this call won.
/// The schema is migrated on first use (and at start-up by the host), once, whatever the number of processes starting.
/// </summary>
public abstract class SqlBuildStore : IBuildStore
{
    private const string Columns =
        "build_id, container_id, target_image, dockerfile, conda_file, spack_file, platform, format, status, succeeded, " +
        "exit_code, failure_reason, image_digest, user_name, user_email, request_ip, created_at, started_at, completed_at, " +
        "duration_ms, attempt, user_id";

    private readonly Lock _gate = new();
    private Task<int>? _migration;

    protected SqlBuildStore(BuildStoreOptions options)
    {
        if (options.MaxLogLength < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxLogLength, "the log size cap cannot be negative");
        }
        Options = options;
    }

    protected BuildStoreOptions Options { get; }

    private LeaseTable Leases => new("builds", "build_id", LockRowClause, ReadTimestamp, ToDbTimestamp);

    /// <summary>The migrations, in order.</summary>
    protected abstract IReadOnlyList<SqlMigration> Migrations { get; }

    /// <summary>Appended to a SELECT that reads a row about to be updated in the same transaction.</summary>
    protected abstract string LockRowClause { get; }

    protected abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>A transaction for read-then-write work, serialised against other writers of the same rows.</summary>
    protected abstract Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Makes concurrent migrators wait for each other, inside <paramref name="transaction"/>.</summary>
    protected abstract Task LockMigrationsAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken);

    protected abstract object ToDbTimestamp(DateTimeOffset value);

    protected abstract DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal);

    /// <summary>Applies the migrations this database has not seen yet; returns how many this call applied.</summary>
    public async Task<int> MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await BeginWriteAsync(connection, cancellationToken);
        await LockMigrationsAsync(connection, transaction, cancellationToken);
        await ExecuteAsync(connection, transaction,
            "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)",
            [], cancellationToken);
        var applied = new HashSet<string>(StringComparer.Ordinal);
        await using (var command = Command(connection, transaction, "SELECT version FROM schema_migrations", []))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                applied.Add(reader.GetString(0));
            }
        }
        var count = 0;
        foreach (var migration in Migrations.OrderBy(m => m.Version, StringComparer.Ordinal))
        {
            if (applied.Contains(migration.Version))
            {
                continue;
            }
            await ExecuteAsync(connection, transaction, migration.Script, [], cancellationToken);
            await ExecuteAsync(connection, transaction, "INSERT INTO schema_migrations (version) VALUES (@version)",
                [("version", migration.Version)], cancellationToken);
            count++;
        }
        await transaction.CommitAsync(cancellationToken);
        return count;
    }

    /// <summary>
    /// The migration of this instance, run once; a failed one is tried again by the next caller. Stores sharing this
    /// database (the container records) wait for it too, rather than migrating again.
    /// </summary>
    public Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        Task<int> migration;
        lock (_gate)
        {
            if (_migration is null || _migration.IsFaulted || _migration.IsCanceled)
            {
                _migration = MigrateAsync(CancellationToken.None);
            }
            migration = _migration;
        }
        return migration.WaitAsync(cancellationToken);
    }

    public async Task<bool> CreateAsync(BuildRecord record, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await ExecuteAsync(connection, null,
            $"INSERT INTO builds ({Columns}) VALUES (@build_id, @container_id, @target_image, @dockerfile, @conda_file, @spack_file, " +
            "@platform, @format, @status, @succeeded, @exit_code, @failure_reason, @image_digest, @user_name, @user_email, @request_ip, " +
            "@created_at, @started_at, @completed_at, @duration_ms, @attempt, @user_id) ON CONFLICT (build_id) DO NOTHING",
            [
                ("build_id", record.BuildId), ("container_id", record.ContainerId), ("target_image", record.TargetImage),
                ("dockerfile", record.Dockerfile), ("conda_file", record.CondaFile), ("spack_file", record.SpackFile),
                ("platform", record.Platform), ("format", record.Format), ("status", record.Status.ToWire()),
                ("succeeded", record.Succeeded), ("exit_code", record.ExitCode), ("failure_reason", record.FailureReason),
                ("image_digest", record.ImageDigest), ("user_name", record.UserName), ("user_email", record.UserEmail),
                ("request_ip", record.RequestIp), ("created_at", Timestamp(record.CreatedAt)), ("started_at", Timestamp(record.StartedAt)),
                ("completed_at", Timestamp(record.CompletedAt)), ("duration_ms", Milliseconds(record.Duration)), ("attempt", record.Attempt),
                ("user_id", record.UserId),
            ], cancellationToken);
        return rows == 1;
    }

    public Task<BuildRecord?> FindAsync(string buildId, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {Columns} FROM builds WHERE build_id = @id", buildId, cancellationToken);

    public Task<BuildRecord?> FindLatestByContainerIdAsync(string containerId, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {Columns} FROM builds WHERE container_id = @id ORDER BY attempt DESC, created_at DESC LIMIT 1",
            containerId, cancellationToken);

    public async Task<IReadOnlyList<BuildRecord>> ListUnfinishedAsync(CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            $"SELECT {Columns} FROM builds WHERE status <> 'COMPLETED' ORDER BY created_at, build_id", []);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var records = new List<BuildRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            records.Add(ReadRecord(reader));
        }
        return records;
    }

    public Task<bool> TryCompleteAsync(string buildId, BuildOutcome outcome, DateTimeOffset completedAt, CancellationToken cancellationToken) =>
        CompleteAsync(buildId, null, outcome, completedAt, cancellationToken);

    public Task<bool> TryCompleteAsync(string buildId, string leaseOwner, BuildOutcome outcome, DateTimeOffset completedAt, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(leaseOwner);
        return CompleteAsync(buildId, leaseOwner, outcome, completedAt, cancellationToken);
    }

    /// <summary>One conditional UPDATE: the first completion wins, and it releases the lease in the same step.</summary>
    private async Task<bool> CompleteAsync(string buildId, string? leaseOwner, BuildOutcome outcome, DateTimeOffset completedAt, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await ExecuteAsync(connection, null,
            "UPDATE builds SET status = 'COMPLETED', succeeded = @succeeded, exit_code = @exit_code, image_digest = @image_digest, " +
            "failure_reason = @failure_reason, duration_ms = @duration_ms, completed_at = @completed_at, lease_owner = NULL, lease_heartbeat_at = NULL " +
            "WHERE build_id = @id AND status <> 'COMPLETED'" + (leaseOwner is null ? "" : " AND lease_owner = @owner"),
            [
                ("id", buildId), ("succeeded", outcome.Succeeded), ("exit_code", outcome.ExitCode), ("image_digest", outcome.ImageDigest),
                ("failure_reason", outcome.FailureReason), ("duration_ms", Milliseconds(outcome.Duration)), ("completed_at", Timestamp(completedAt)),
                .. leaseOwner is null ? Array.Empty<(string, object?)>() : [("owner", leaseOwner)],
            ], cancellationToken);
        return rows == 1;
    }

    public async Task<BuildLease> TryTakeLeaseAsync(string buildId, string owner, DateTimeOffset now, TimeSpan leaseTimeout, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await BeginWriteAsync(connection, cancellationToken);
        return await SqlLeases.TryTakeAsync(connection, transaction, Leases, buildId, owner, now, leaseTimeout, cancellationToken);
    }

    public async Task<bool> ReleaseLeaseAsync(string buildId, string owner, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        return await SqlLeases.ReleaseAsync(connection, Leases, buildId, owner, cancellationToken);
    }

    public async Task<BuildLeaseHolder?> FindLeaseAsync(string buildId, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            "SELECT lease_owner, lease_heartbeat_at FROM builds WHERE build_id = @id AND lease_owner IS NOT NULL", [("id", buildId)]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new BuildLeaseHolder(reader.GetString(0), reader.IsDBNull(1) ? DateTimeOffset.MinValue : ReadTimestamp(reader, 1))
            : null;
    }

    public async Task<bool> AppendLogAsync(string buildId, string text, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(text);
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await BeginWriteAsync(connection, cancellationToken);
        long length;
        bool truncated;
        await using (var command = Command(connection, transaction,
                         $"SELECT log_length, log_truncated FROM builds WHERE build_id = @id{LockRowClause}", [("id", buildId)]))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return false;
            }
            length = reader.GetInt64(0);
            truncated = reader.GetBoolean(1);
        }
        if (truncated || text.Length == 0)
        {
            return true;
        }
        var room = Math.Max(0, Options.MaxLogLength - length);
        var kept = text.Length <= room ? text : KeepWhole(text, (int)room);
        if (kept.Length > 0)
        {
            await ExecuteAsync(connection, transaction,
                "INSERT INTO build_log_chunks (build_id, start_offset, length, text) VALUES (@id, @start, @length, @text)",
                [("id", buildId), ("start", length), ("length", (long)kept.Length), ("text", kept)], cancellationToken);
        }
        await ExecuteAsync(connection, transaction,
            "UPDATE builds SET log_length = @length, log_truncated = @truncated WHERE build_id = @id",
            [("id", buildId), ("length", length + kept.Length), ("truncated", kept.Length < text.Length)], cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<BuildLogSlice?> ReadLogAsync(string buildId, long offset, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        long length;
        bool truncated;
        await using (var command = Command(connection, null, "SELECT log_length, log_truncated FROM builds WHERE build_id = @id", [("id", buildId)]))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }
            length = reader.GetInt64(0);
            truncated = reader.GetBoolean(1);
        }
        var text = new StringBuilder();
        var next = Math.Min(offset, length);
        await using (var command = Command(connection, null,
                         "SELECT start_offset, text FROM build_log_chunks WHERE build_id = @id AND start_offset + length > @offset ORDER BY start_offset",
                         [("id", buildId), ("offset", offset)]))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var start = reader.GetInt64(0);
                var chunk = reader.GetString(1);
                var skip = (int)Math.Max(0, offset - start);
                text.Append(chunk, skip, chunk.Length - skip);
                next = start + chunk.Length;
            }
        }
        return new BuildLogSlice(text.ToString(), offset, Math.Max(next, offset), truncated);
    }

    public async Task<bool> SetCondaLockAsync(string buildId, string condaLock, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(condaLock);
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        return await ExecuteAsync(connection, null, "UPDATE builds SET conda_lock = @lock WHERE build_id = @id",
            [("id", buildId), ("lock", condaLock)], cancellationToken) == 1;
    }

    public async Task<string?> GetCondaLockAsync(string buildId, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT conda_lock FROM builds WHERE build_id = @id", [("id", buildId)]);
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value as string;
    }

    public async Task<bool> SaveJobAsync(BuildJob job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await ExecuteAsync(connection, null,
            "INSERT INTO build_jobs (build_id, job) SELECT build_id, @job FROM builds WHERE build_id = @id " +
            "ON CONFLICT (build_id) DO UPDATE SET job = excluded.job",
            [("id", job.BuildId), ("job", JsonSerializer.Serialize(job))], cancellationToken);
        return rows == 1;
    }

    public async Task<BuildJob?> FindJobAsync(string buildId, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT job FROM build_jobs WHERE build_id = @id", [("id", buildId)]);
        return await command.ExecuteScalarAsync(cancellationToken) is string json ? JsonSerializer.Deserialize<BuildJob>(json) : null;
    }

    /// <summary>Never splits a surrogate pair, so the kept part stays valid text.</summary>
    private static string KeepWhole(string text, int room)
    {
        if (room > 0 && room < text.Length && char.IsHighSurrogate(text[room - 1]))
        {
            room--;
        }
        return text[..room];
    }

    private async Task<BuildRecord?> QuerySingleAsync(string sql, string id, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, sql, [("id", id)]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadRecord(reader) : null;
    }

    private BuildRecord ReadRecord(DbDataReader reader) => new()
    {
        BuildId = reader.GetString(0),
        ContainerId = reader.GetString(1),
        TargetImage = reader.GetString(2),
        Dockerfile = NullableString(reader, 3),
        CondaFile = NullableString(reader, 4),
        SpackFile = NullableString(reader, 5),
        Platform = reader.GetString(6),
        Format = reader.GetString(7),
        Status = BuildStatusNames.Parse(reader.GetString(8)),
        Succeeded = reader.IsDBNull(9) ? null : reader.GetBoolean(9),
        ExitCode = reader.IsDBNull(10) ? null : reader.GetInt32(10),
        FailureReason = NullableString(reader, 11),
        ImageDigest = NullableString(reader, 12),
        UserName = NullableString(reader, 13),
        UserEmail = NullableString(reader, 14),
        RequestIp = NullableString(reader, 15),
        CreatedAt = ReadTimestamp(reader, 16),
        StartedAt = reader.IsDBNull(17) ? null : ReadTimestamp(reader, 17),
        CompletedAt = reader.IsDBNull(18) ? null : ReadTimestamp(reader, 18),
        Duration = reader.IsDBNull(19) ? null : TimeSpan.FromMilliseconds(reader.GetInt64(19)),
        Attempt = reader.GetInt32(20),
        UserId = NullableString(reader, 21),
    };

    /// <summary>Both databases keep microseconds; cutting here (Postgres would round) makes them agree.</summary>
    private object? Timestamp(DateTimeOffset? value) => value is { } v
        ? ToDbTimestamp(ToMicroseconds(v))
        : null;

    private static long? Milliseconds(TimeSpan? value) => value is { } v ? (long)v.TotalMilliseconds : null;

}
