using System.Data.Common;
using System.Text;
using System.Text.Json;

using Wave.Core.Scans;

using static Wave.Core.Persistence.SqlCommands;

namespace Wave.Core.Persistence;

/// <summary>
/// <see cref="IScanStore"/> over plain ADO.NET, for Postgres and SQLite alike (table <c>scans</c>, migration 0006).
/// Like the container records, the schema belongs to the build store's migrations: this store waits for the build
/// store's once-per-instance migration before its first statement.
/// </summary>
public abstract class SqlScanStore(Func<CancellationToken, Task> ensureSchema) : IScanStore
{
    private const string Columns =
        "id, scan_key, attempt, build_id, mirror_id, request_id, container_image, platform, status, start_time, duration_ms, " +
        "vulnerabilities, summary, package_count, exit_code, logs";

    /// <summary>What a scan's log may hold; the rest is cut (a scan's log is a few lines, a failure's reason included).</summary>
    public const int MaxLogLength = 64 * 1024;

    protected abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    protected abstract object ToDbTimestamp(DateTimeOffset value);

    protected abstract DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal);

    public async Task<ScanRecord?> FindAsync(string scanId, CancellationToken cancellationToken)
    {
        if (!ScanId.TryParse(scanId, out _, out _))
        {
            return null;
        }
        return await QuerySingleAsync($"SELECT {Columns} FROM scans WHERE id = @id", [("id", scanId)], cancellationToken);
    }

    public Task<ScanRecord?> FindLatestAsync(string key, CancellationToken cancellationToken) =>
        QuerySingleAsync($"SELECT {Columns} FROM scans WHERE scan_key = @key ORDER BY attempt DESC LIMIT 1", [("key", key)], cancellationToken);

    public Task<ScanRecord?> FindLatestOfAsync(ScanOrigin origin, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(origin);
        var (column, id) = origin switch
        {
            { BuildId: { } build } => ("build_id", build),
            { MirrorId: { } mirror } => ("mirror_id", mirror),
            _ => throw new ArgumentException("a scan origin names a build or a mirror", nameof(origin)),
        };
        // Indexed by migration 0009; the attempt orders scans of one image started within the same microsecond.
        return QuerySingleAsync($"SELECT {Columns} FROM scans WHERE {column} = @id ORDER BY start_time DESC, attempt DESC LIMIT 1", [("id", id)],
            cancellationToken);
    }

    public async Task<bool> CreateAsync(ScanRecord pending, string leaseOwner, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await ensureSchema(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        return await ExecuteAsync(connection,
            $"INSERT INTO scans ({Columns}, lease_owner, lease_heartbeat_at) VALUES (@id, @scan_key, @attempt, @build_id, @mirror_id, @request_id, " +
            "@container_image, @platform, @status, @start_time, NULL, NULL, NULL, NULL, NULL, NULL, @owner, @now) ON CONFLICT DO NOTHING",
            [
                ("id", pending.Id), ("scan_key", pending.Key), ("attempt", pending.Attempt), ("build_id", pending.BuildId),
                ("mirror_id", pending.MirrorId), ("request_id", pending.RequestId), ("container_image", pending.ContainerImage),
                ("platform", pending.Platform), ("status", ScanStatus.Pending), ("start_time", Timestamp(pending.StartTime)),
                ("owner", leaseOwner), ("now", Timestamp(now)),
            ], cancellationToken) == 1;
    }

    public async Task<bool> TryTakeLeaseAsync(string scanId, string owner, DateTimeOffset now, DateTimeOffset staleBefore, CancellationToken cancellationToken)
    {
        await ensureSchema(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        return await ExecuteAsync(connection,
            "UPDATE scans SET lease_owner = @owner, lease_heartbeat_at = @now WHERE id = @id AND status = @pending " +
            "AND (lease_owner IS NULL OR lease_owner = @owner OR lease_heartbeat_at IS NULL OR lease_heartbeat_at < @stale)",
            [("id", scanId), ("owner", owner), ("now", Timestamp(now)), ("stale", Timestamp(staleBefore)), ("pending", ScanStatus.Pending)],
            cancellationToken) == 1;
    }

    public async Task<bool> CompleteAsync(string scanId, string owner, ScanOutcome outcome, TimeSpan duration, CancellationToken cancellationToken)
    {
        await ensureSchema(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        var logs = outcome.Logs.Length > MaxLogLength ? outcome.Logs[..MaxLogLength] + "\n[log truncated]" : outcome.Logs;
        return await ExecuteAsync(connection,
            "UPDATE scans SET status = @status, duration_ms = @duration_ms, vulnerabilities = @vulnerabilities, summary = @summary, " +
            "package_count = @package_count, exit_code = @exit_code, logs = @logs, spdx = @spdx, lease_owner = NULL, lease_heartbeat_at = NULL " +
            "WHERE id = @id AND status = @pending AND lease_owner = @owner",
            [
                ("id", scanId), ("owner", owner), ("pending", ScanStatus.Pending), ("status", outcome.Status),
                ("duration_ms", (long)Math.Round(duration.TotalMilliseconds)),
                ("vulnerabilities", JsonSerializer.Serialize(outcome.Vulnerabilities)), ("summary", JsonSerializer.Serialize(outcome.Summary)),
                ("package_count", outcome.PackageCount), ("exit_code", outcome.ExitCode), ("logs", logs),
                ("spdx", outcome.Spdx is null ? null : Encoding.UTF8.GetString(outcome.Spdx)),
            ], cancellationToken) == 1;
    }

    public async Task<IReadOnlyList<ScanRecord>> FindAbandonedAsync(DateTimeOffset staleBefore, int limit, CancellationToken cancellationToken)
    {
        await ensureSchema(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection,
            $"SELECT {Columns} FROM scans WHERE status = @pending AND (lease_owner IS NULL OR lease_heartbeat_at IS NULL OR lease_heartbeat_at < @stale) " +
            "ORDER BY start_time LIMIT @limit",
            [("pending", ScanStatus.Pending), ("stale", Timestamp(staleBefore)), ("limit", limit)]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var result = new List<ScanRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(Read(reader));
        }
        return result;
    }

    public async Task<byte[]?> ReadSpdxAsync(string scanId, CancellationToken cancellationToken)
    {
        if (!ScanId.TryParse(scanId, out _, out _))
        {
            return null;
        }
        await ensureSchema(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, "SELECT spdx FROM scans WHERE id = @id", [("id", scanId)]);
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is string text ? Encoding.UTF8.GetBytes(text) : null;
    }

    private async Task<ScanRecord?> QuerySingleAsync(string sql, IEnumerable<(string Name, object? Value)> parameters, CancellationToken cancellationToken)
    {
        await ensureSchema(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    private ScanRecord Read(DbDataReader reader) => new()
    {
        Id = reader.GetString(0),
        Key = reader.GetString(1),
        Attempt = Convert.ToInt32(reader.GetValue(2), System.Globalization.CultureInfo.InvariantCulture),
        BuildId = NullableString(reader, 3),
        MirrorId = NullableString(reader, 4),
        RequestId = NullableString(reader, 5),
        ContainerImage = reader.GetString(6),
        Platform = reader.GetString(7),
        Status = reader.GetString(8),
        StartTime = ReadTimestamp(reader, 9),
        Duration = reader.IsDBNull(10) ? null : TimeSpan.FromMilliseconds(reader.GetInt64(10)),
        Vulnerabilities = reader.IsDBNull(11) ? [] : JsonSerializer.Deserialize<List<ScanVulnerability>>(reader.GetString(11)) ?? [],
        Summary = reader.IsDBNull(12) ? new Dictionary<string, int>() : JsonSerializer.Deserialize<Dictionary<string, int>>(reader.GetString(12)) ?? [],
        PackageCount = reader.IsDBNull(13) ? null : Convert.ToInt32(reader.GetValue(13), System.Globalization.CultureInfo.InvariantCulture),
        ExitCode = reader.IsDBNull(14) ? null : Convert.ToInt32(reader.GetValue(14), System.Globalization.CultureInfo.InvariantCulture),
        Logs = NullableString(reader, 15),
    };

    /// <summary>Microseconds, as the build store keeps them.</summary>
    private object Timestamp(DateTimeOffset value) => ToDbTimestamp(ToMicroseconds(value));

}
