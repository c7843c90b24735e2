using Wave.Core.Persistence;

namespace Wave.Core.Mirrors;

/// <summary>
/// The durable record of one mirror attempt (<c>mr-&lt;contentId&gt;_&lt;attempt&gt;</c>). It moves PENDING → RUNNING →
/// COMPLETED like a build (<see cref="BuildStatus"/>). Timestamps keep microseconds and durations milliseconds in every
/// store. It holds no secret: the job kept beside it carries Platform logins sealed only.
/// </summary>
public sealed record MirrorRecord
{
    public required string MirrorId { get; init; }
    public required string ContentId { get; init; }
    public required string SourceImage { get; init; }
    public required string SourceDigest { get; init; }
    public required string TargetImage { get; init; }

    /// <summary>The platform the request named, kept for the record (a mirror copies every platform of an index).</summary>
    public string? Platform { get; init; }

    public BuildStatus Status { get; init; } = BuildStatus.Pending;

    /// <summary>Null until the copy completed.</summary>
    public bool? Succeeded { get; init; }

    public string? FailureReason { get; init; }

    /// <summary>The digest the target's tag has once the copy completed: the source's.</summary>
    public string? Digest { get; init; }

    public string? UserId { get; init; }
    public string? UserName { get; init; }
    public string? UserEmail { get; init; }
    public string? RequestIp { get; init; }

    /// <summary>The time zone offset of the request's <c>timestamp</c> (<c>+02:00</c>, <c>Z</c>), as the server keeps it.</summary>
    public string? OffsetId { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public TimeSpan? Duration { get; init; }
    public int Attempt { get; init; } = 1;

    public MirrorCounts Counts { get; init; } = MirrorCounts.None;

    public bool Completed => Status == BuildStatus.Completed;
}

/// <summary>
/// Mirror records, their logs and their jobs, in the build store's database (Postgres in distributed mode, the SQLite
/// file in embedded mode; table <c>mirrors</c>, migration 0007). Like <see cref="IBuildStore"/>, every state change is
/// one conditional statement, so Api and Builder processes and a job delivered twice agree on who did what.
/// </summary>
public interface IMirrorStore
{
    /// <summary>Records a new attempt with its job; false (nothing changed) when that id exists: another request recorded it first.</summary>
    Task<bool> CreateAsync(MirrorRecord record, MirrorJob job, CancellationToken cancellationToken);

    Task<MirrorRecord?> FindAsync(string mirrorId, CancellationToken cancellationToken);

    /// <summary>The attempt of this content with the highest number, or null.</summary>
    Task<MirrorRecord?> FindLatestByContentIdAsync(string contentId, CancellationToken cancellationToken);

    /// <summary>Copies not completed (PENDING or RUNNING), oldest first.</summary>
    Task<IReadOnlyList<MirrorRecord>> ListUnfinishedAsync(CancellationToken cancellationToken);

    Task<MirrorJob?> FindJobAsync(string mirrorId, CancellationToken cancellationToken);

    /// <summary>Takes or renews the copy's lease, with the rules of <see cref="IBuildStore.TryTakeLeaseAsync"/>.</summary>
    Task<BuildLease> TryTakeLeaseAsync(string mirrorId, string owner, DateTimeOffset now, TimeSpan leaseTimeout, CancellationToken cancellationToken);

    Task<bool> ReleaseLeaseAsync(string mirrorId, string owner, CancellationToken cancellationToken);

    /// <summary>
    /// Records the outcome once: true only for the call that completed the copy; with <paramref name="leaseOwner"/>, only
    /// while that builder holds the lease. Releases the lease.
    /// </summary>
    Task<bool> TryCompleteAsync(string mirrorId, string? leaseOwner, MirrorOutcome outcome, DateTimeOffset completedAt, CancellationToken cancellationToken);

    /// <summary>Appends to the copy's log (capped; the rest is dropped and the log marked truncated). False for an unknown id.</summary>
    Task<bool> AppendLogAsync(string mirrorId, string text, CancellationToken cancellationToken);

    /// <summary>The log so far; null for an unknown id.</summary>
    Task<string?> ReadLogAsync(string mirrorId, CancellationToken cancellationToken);
}
