using System.Data.Common;
using System.Text.Json;

using Wave.Core.Persistence;

using static Wave.Core.Persistence.SqlCommands;

namespace Wave.Core.Mirrors;

/// <summary>
/// <see cref="IMirrorStore"/> over plain ADO.NET, for Postgres and SQLite alike (table <c>mirrors</c>, migration 0007).
/// The schema belongs to the build store's migrations: this store waits for the build store's once-per-instance
/// migration before its first statement, as the container records do. The job is kept in the record's row, written in
/// the same insert, so a recorded copy always has the job that runs it.
/// </summary>
public abstract class SqlMirrorStore(Func<CancellationToken, Task> ensureSchema) : IMirrorStore
{
    /// <summary>Largest log kept per copy, in characters; a copy writes a line per blob and manifest.</summary>
    public const int MaxLogLength = 1024 * 1024;

    private const string Columns =
        "mirror_id, content_id, source_image, source_digest, target_image, platform, status, succeeded, failure_reason, digest, " +
        "user_id, user_name, user_email, request_ip, offset_id, created_at, started_at, completed_at, duration_ms, attempt, " +
        "blobs_copied, blobs_skipped, bytes_copied, manifests";

    protected abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>A transaction for read-then-write work, serialised against other writers of the same rows.</summary>
    protected abstract Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Appended to a SELECT that reads a row about to be updated in the same transaction.</summary>
    protected abstract string LockRowClause { get; }

    protected abstract object ToDbTimestamp(DateTimeOffset value);

    protected abstract DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal);

    private LeaseTable Leases => new("mirrors", "mirror_id", LockRowClause, ReadTimestamp, ToDbTimestamp);

    public async Task<bool> CreateAsync(MirrorRecord record, MirrorJob job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        if (!string.Equals(record.MirrorId, job.MirrorId, StringComparison.Ordinal))
        {
            throw new ArgumentException($"the job of {job.MirrorId} cannot be kept with the record of {record.MirrorId}", nameof(job));
        }
        await ensureSchema(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        return await ExecuteAsync(connection, null,
            $"INSERT INTO mirrors ({Columns}, job) VALUES (@mirror_id, @content_id, @source_image, @source_digest, @target_image, @platform, " +
            "@status, @succeeded, @failure_reason, @digest, @user_id, @user_name, @user_email, @request_ip, @offset_id, @created_at, @started_at, " +
            "@completed_at, @duration_ms, @attempt, @blobs_copied, @blobs_skipped, @bytes_copied, @manifests, @job) ON CONFLICT (mirror_id) DO NOTHING",
            [
                ("mirror_id", record.MirrorId), ("content_id", record.ContentId), ("source_image", record.SourceImage),
                ("source_digest", record.SourceDigest), ("target_image", record.TargetImage), ("platform", record.Platform),
                ("status", record.Status.ToWire()), ("succeeded", record.Succeeded), ("failure_reason", record.FailureReason),
                ("digest", record.Digest), ("user_id", record.UserId), ("user_name", record.UserName), ("user_email", record.UserEmail),
                ("request_ip", record.RequestIp), ("offset_id", record.OffsetId), ("created_at", Timestamp(record.CreatedAt)),
                ("started_at", Timestamp(record.StartedAt)), ("completed_at", Timestamp(record.CompletedAt)),
                ("duration_ms", Milliseconds(record.Duration)), ("attempt", record.Attempt), ("blobs_copied", record.Counts.BlobsCopied),
                ("blobs_skipped", record.Counts.BlobsSkipped), ("bytes_copied", record.Counts.BytesCopied), ("manifests", record.Counts.Manifests),
                ("job", JsonSerializer.Serialize(job)),
            ], cancellationToken) == 1;
    }

    public Task<MirrorRecord?> FindAsync(string mirrorId, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {Columns} FROM mirrors WHERE mirror_id = @id", mirrorId, cancellationToken);

    public Task<MirrorRecord?> FindLatestByContentIdAsync(string contentId, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {Columns} FROM mirrors WHERE content_id = @id ORDER BY attempt DESC LIMIT 1", contentId, cancellationToken);

    public async Task<IReadOnlyList<MirrorRecord>> ListUnfinishedAsync(CancellationToken cancellationToken)
    {
        await ensureSchema(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"SELECT {Columns} FROM mirrors WHERE status <> 'COMPLETED' ORDER BY created_at, mirror_id", []);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var records = new List<MirrorRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            records.Add(Read(reader));
        }
        return records;
    }

    public async Task<MirrorJob?> FindJobAsync(string mirrorId, CancellationToken cancellationToken)
    {
        await ensureSchema(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT job FROM mirrors WHERE mirror_id = @id", [("id", mirrorId)]);
        return await command.ExecuteScalarAsync(cancellationToken) is string json ? JsonSerializer.Deserialize<MirrorJob>(json) : null;
    }

    public async Task<BuildLease> TryTakeLeaseAsync(string mirrorId, string owner, DateTimeOffset now, TimeSpan leaseTimeout, CancellationToken cancellationToken)
    {
        await ensureSchema(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await BeginWriteAsync(connection, cancellationToken);
        return await SqlLeases.TryTakeAsync(connection, transaction, Leases, mirrorId, owner, now, leaseTimeout, cancellationToken);
    }

    public async Task<bool> ReleaseLeaseAsync(string mirrorId, string owner, CancellationToken cancellationToken)
    {
        await ensureSchema(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        return await SqlLeases.ReleaseAsync(connection, Leases, mirrorId, owner, cancellationToken);
    }

    public async Task<bool> TryCompleteAsync(string mirrorId, string? leaseOwner, MirrorOutcome outcome, DateTimeOffset completedAt, CancellationToken cancellationToken)
    {
        await ensureSchema(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        return await ExecuteAsync(connection, null,
            "UPDATE mirrors SET status = 'COMPLETED', succeeded = @succeeded, digest = @digest, failure_reason = @failure_reason, " +
            "duration_ms = @duration_ms, completed_at = @completed_at, blobs_copied = @blobs_copied, blobs_skipped = @blobs_skipped, " +
            "bytes_copied = @bytes_copied, manifests = @manifests, lease_owner = NULL, lease_heartbeat_at = NULL " +
            "WHERE mirror_id = @id AND status <> 'COMPLETED'" + (leaseOwner is null ? "" : " AND lease_owner = @owner"),
            [
                ("id", mirrorId), ("succeeded", outcome.Succeeded), ("digest", outcome.Digest), ("failure_reason", outcome.FailureReason),
                ("duration_ms", Milliseconds(outcome.Duration)), ("completed_at", Timestamp(completedAt)),
                ("blobs_copied", outcome.Counts.BlobsCopied), ("blobs_skipped", outcome.Counts.BlobsSkipped),
                ("bytes_copied", outcome.Counts.BytesCopied), ("manifests", outcome.Counts.Manifests),
                .. leaseOwner is null ? Array.Empty<(string, object?)>() : [("owner", leaseOwner)],
            ], cancellationToken) == 1;
    }

    public async Task<bool> AppendLogAsync(string mirrorId, string text, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(text);
        await ensureSchema(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await BeginWriteAsync(connection, cancellationToken);
        long length;
        bool truncated;
        await using (var command = Command(connection, transaction,
                         $"SELECT log_length, log_truncated FROM mirrors WHERE mirror_id = @id{LockRowClause}", [("id", mirrorId)]))
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
        var room = (int)Math.Max(0, MaxLogLength - length);
        var kept = text.Length <= room ? text : KeepWhole(text, room);
        await ExecuteAsync(connection, transaction,
            "UPDATE mirrors SET log = log || @text, log_length = @length, log_truncated = @truncated WHERE mirror_id = @id",
            [("id", mirrorId), ("text", kept), ("length", length + kept.Length), ("truncated", kept.Length < text.Length)], cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<string?> ReadLogAsync(string mirrorId, CancellationToken cancellationToken)
    {
        await ensureSchema(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT log, log_truncated FROM mirrors WHERE mirror_id = @id", [("id", mirrorId)]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }
        var log = reader.GetString(0);
        return reader.GetBoolean(1) ? log + "\n--- the log reached its size limit; later lines were dropped ---\n" : log;
    }

    private async Task<MirrorRecord?> QuerySingleAsync(string sql, string id, CancellationToken cancellationToken)
    {
        await ensureSchema(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, sql, [("id", id)]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    private MirrorRecord Read(DbDataReader reader) => new()
    {
        MirrorId = reader.GetString(0),
        ContentId = reader.GetString(1),
        SourceImage = reader.GetString(2),
        SourceDigest = reader.GetString(3),
        TargetImage = reader.GetString(4),
        Platform = Text(reader, 5),
        Status = BuildStatusNames.Parse(reader.GetString(6)),
        Succeeded = reader.IsDBNull(7) ? null : reader.GetBoolean(7),
        FailureReason = Text(reader, 8),
        Digest = Text(reader, 9),
        UserId = Text(reader, 10),
        UserName = Text(reader, 11),
        UserEmail = Text(reader, 12),
        RequestIp = Text(reader, 13),
        OffsetId = Text(reader, 14),
        CreatedAt = ReadTimestamp(reader, 15),
        StartedAt = reader.IsDBNull(16) ? null : ReadTimestamp(reader, 16),
        CompletedAt = reader.IsDBNull(17) ? null : ReadTimestamp(reader, 17),
        Duration = reader.IsDBNull(18) ? null : TimeSpan.FromMilliseconds(reader.GetInt64(18)),
        Attempt = reader.GetInt32(19),
        Counts = new MirrorCounts(reader.GetInt32(20), reader.GetInt32(21), reader.GetInt64(22), reader.GetInt32(23)),
    };

    private static string? Text(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    /// <summary>Never splits a surrogate pair, so the kept part stays valid text.</summary>
    private static string KeepWhole(string text, int room)
    {
        if (room > 0 && room < text.Length && char.IsHighSurrogate(text[room - 1]))
        {
            room--;
        }
        return text[..room];
    }

    /// <summary>Microseconds, as the build store keeps them.</summary>
    private object? Timestamp(DateTimeOffset? value) => value is { } v
        ? ToDbTimestamp(ToMicroseconds(v))
        : null;

    private static long? Milliseconds(TimeSpan? value) => value is { } v ? (long)v.TotalMilliseconds : null;

}
