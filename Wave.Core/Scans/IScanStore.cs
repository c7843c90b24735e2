namespace Wave.Core.Scans;

/// <summary>
/// Where scan records live (Postgres or the embedded SQLite file, table <c>scans</c>). A pending scan carries a lease
/// (owner and heartbeat) so that exactly one process runs it, and a scan whose runner died is taken over.
/// </summary>
public interface IScanStore
{
    Task<ScanRecord?> FindAsync(string scanId, CancellationToken cancellationToken);

    /// <summary>The scan of <paramref name="key"/> with the highest attempt, or null.</summary>
    Task<ScanRecord?> FindLatestAsync(string key, CancellationToken cancellationToken);

    /// <summary>The most recent scan started for the build or mirror <paramref name="origin"/> names, or null (its record's <c>scanId</c>).</summary>
    Task<ScanRecord?> FindLatestOfAsync(ScanOrigin origin, CancellationToken cancellationToken);

    /// <summary>Records a pending scan, its lease held by <paramref name="leaseOwner"/>; false when that id (key and attempt) exists already.</summary>
    Task<bool> CreateAsync(ScanRecord pending, string leaseOwner, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Takes or renews the lease of a pending scan: succeeds when nobody holds it, the owner does, or the holder's heartbeat is older than <paramref name="staleBefore"/>.</summary>
    Task<bool> TryTakeLeaseAsync(string scanId, string owner, DateTimeOffset now, DateTimeOffset staleBefore, CancellationToken cancellationToken);

    /// <summary>Records the outcome of a pending scan whose lease <paramref name="owner"/> holds; false when it is not (any more) theirs.</summary>
    Task<bool> CompleteAsync(string scanId, string owner, ScanOutcome outcome, TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>Pending scans whose lease is free or whose heartbeat is older than <paramref name="staleBefore"/>, oldest first.</summary>
    Task<IReadOnlyList<ScanRecord>> FindAbandonedAsync(DateTimeOffset staleBefore, int limit, CancellationToken cancellationToken);

    /// <summary>The SPDX JSON of a succeeded scan, or null.</summary>
    Task<byte[]?> ReadSpdxAsync(string scanId, CancellationToken cancellationToken);
}
