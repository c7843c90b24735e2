using System.Data.Common;

using static Wave.Core.Persistence.SqlCommands;

namespace Wave.Core.Persistence;

/// <summary>
/// Where a kind of job keeps its lease: the table and key column (constants of the store, never input), how the
/// database locks a row read for update, and how it reads and writes a timestamp.
/// </summary>
public sealed record LeaseTable(string Table, string IdColumn, string LockRowClause,
    Func<DbDataReader, int, DateTimeOffset> ReadTimestamp, Func<DateTimeOffset, object?> WriteTimestamp);

/// <summary>
/// The lease of a job row (builds, mirrors): taken by one runner at a time, kept alive by heartbeats, free again when
/// released or when its heartbeat is older than the lease timeout, so a job a crashed runner held is run again.
/// </summary>
public static class SqlLeases
{
    /// <summary>
    /// Takes or renews the lease inside <paramref name="transaction"/>, a write transaction the caller began and disposes:
    /// the row is read under the write lock (FOR UPDATE on Postgres, the IMMEDIATE transaction on SQLite), so that of
    /// runners racing for one lease exactly one finds it free and takes it; the others then find it held.
    /// </summary>
    public static async Task<BuildLease> TryTakeAsync(DbConnection connection, DbTransaction transaction, LeaseTable table, string id, string owner,
        DateTimeOffset now, TimeSpan leaseTimeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentException.ThrowIfNullOrWhiteSpace(owner);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseTimeout, TimeSpan.Zero);
        BuildStatus status;
        string? holder;
        DateTimeOffset? heartbeat;
        await using (var command = Command(connection, transaction,
                         $"SELECT status, lease_owner, lease_heartbeat_at FROM {table.Table} WHERE {table.IdColumn} = @id{table.LockRowClause}", [("id", id)]))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return new BuildLease(BuildLeaseOutcome.UnknownBuild);
            }
            status = BuildStatusNames.Parse(reader.GetString(0));
            holder = NullableString(reader, 1);
            heartbeat = reader.IsDBNull(2) ? null : table.ReadTimestamp(reader, 2);
        }
        if (status == BuildStatus.Completed)
        {
            return new BuildLease(BuildLeaseOutcome.Completed, status, holder, heartbeat);
        }
        var mine = string.Equals(holder, owner, StringComparison.Ordinal);
        var expired = holder is null || heartbeat is null || now - heartbeat.Value > leaseTimeout;
        if (!mine && !expired)
        {
            return new BuildLease(BuildLeaseOutcome.HeldByAnother, status, holder, heartbeat);
        }
        await ExecuteAsync(connection, transaction, mine && status == BuildStatus.Running
                ? $"UPDATE {table.Table} SET lease_heartbeat_at = @now WHERE {table.IdColumn} = @id"
                : $"UPDATE {table.Table} SET status = 'RUNNING', started_at = @now, lease_owner = @owner, lease_heartbeat_at = @now WHERE {table.IdColumn} = @id",
            [("id", id), ("owner", owner), ("now", table.WriteTimestamp(ToMicroseconds(now)))], cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new BuildLease(BuildLeaseOutcome.Acquired, status, holder, heartbeat);
    }

    /// <summary>Gives the lease up if <paramref name="owner"/> still holds it; true when it did.</summary>
    public static async Task<bool> ReleaseAsync(DbConnection connection, LeaseTable table, string id, string owner, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentException.ThrowIfNullOrWhiteSpace(owner);
        return await ExecuteAsync(connection,
            $"UPDATE {table.Table} SET lease_owner = NULL, lease_heartbeat_at = NULL WHERE {table.IdColumn} = @id AND lease_owner = @owner",
            [("id", id), ("owner", owner)], cancellationToken) == 1;
    }
}
