using Wave.Core.Builds;

namespace Wave.Core.Persistence;

/// <summary>
/// Build records and their logs: Postgres in distributed mode, a SQLite file in embedded mode. Every state change is
/// one conditional statement, so that concurrent Api and Builder processes (and a job delivered twice) agree on who
/// did what without locks held across calls.
/// </summary>
public interface IBuildStore
{
    /// <summary>Records a new build; false (and nothing changed) when a build with that id already exists.</summary>
    Task<bool> CreateAsync(BuildRecord record, CancellationToken cancellationToken);

    Task<BuildRecord?> FindAsync(string buildId, CancellationToken cancellationToken);

    /// <summary>The build of this content with the highest attempt number, or null.</summary>
    Task<BuildRecord?> FindLatestByContainerIdAsync(string containerId, CancellationToken cancellationToken);

    /// <summary>Builds not completed yet (PENDING or RUNNING), oldest first: what an embedded restart enqueues again.</summary>
    Task<IReadOnlyList<BuildRecord>> ListUnfinishedAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Takes or renews the lease of a build for <paramref name="owner"/> (a builder's instance id), in one atomic step:
    /// it succeeds when nobody holds the lease, when <paramref name="owner"/> does, or when the holder's last heartbeat
    /// is older than <paramref name="leaseTimeout"/> before <paramref name="now"/> (the holder died); never for a
    /// COMPLETED or unknown build. On success the build is RUNNING, owned by <paramref name="owner"/>, with its heartbeat
    /// at <paramref name="now"/>; <c>started_at</c> is set when the build was PENDING or changes hands, and kept on a
    /// renewal.
    /// </summary>
    Task<BuildLease> TryTakeLeaseAsync(string buildId, string owner, DateTimeOffset now, TimeSpan leaseTimeout, CancellationToken cancellationToken);

    /// <summary>
    /// Gives the lease up when its run ends without an outcome (shutdown, a failure before completion), so that the
    /// job's next delivery may run the build at once rather than wait for the heartbeat to expire. True when
    /// <paramref name="owner"/> held it; the build stays RUNNING.
    /// </summary>
    Task<bool> ReleaseLeaseAsync(string buildId, string owner, CancellationToken cancellationToken);

    /// <summary>Who holds the build's lease and since when it last renewed it; null when nobody does or for an unknown build.</summary>
    Task<BuildLeaseHolder?> FindLeaseAsync(string buildId, CancellationToken cancellationToken);

    /// <summary>
    /// Records the outcome; true only for the one call that completed the build. Later (or concurrent) calls return
    /// false and leave the first outcome untouched.
    /// </summary>
    /// <remarks>Releases the lease, whoever held it.</remarks>
    Task<bool> TryCompleteAsync(string buildId, BuildOutcome outcome, DateTimeOffset completedAt, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="TryCompleteAsync(string, BuildOutcome, DateTimeOffset, CancellationToken)"/> for the holder of the
    /// lease only: false, and nothing changed, when the build is completed already or <paramref name="leaseOwner"/> no
    /// longer holds its lease (another builder took it over and will record its own outcome).
    /// </summary>
    Task<bool> TryCompleteAsync(string buildId, string leaseOwner, BuildOutcome outcome, DateTimeOffset completedAt, CancellationToken cancellationToken);

    /// <summary>
    /// Appends to the build's log. Once the log reached the store's size cap the rest is dropped and the log marked
    /// truncated. False for an unknown build.
    /// </summary>
    Task<bool> AppendLogAsync(string buildId, string text, CancellationToken cancellationToken);

    /// <summary>The log from <paramref name="offset"/> to its current end (readable while the build runs); null for an unknown build.</summary>
    Task<BuildLogSlice?> ReadLogAsync(string buildId, long offset, CancellationToken cancellationToken);

    /// <summary>Stores the resolved Conda lock printed by a Conda build. False for an unknown build.</summary>
    Task<bool> SetCondaLockAsync(string buildId, string condaLock, CancellationToken cancellationToken);

    Task<string?> GetCondaLockAsync(string buildId, CancellationToken cancellationToken);

    /// <summary>
    /// Keeps the job of a recorded build so that it can be queued again after a restart (see
    /// <see cref="FindJobAsync"/>); false for an unknown build. Saving again replaces it.
    /// </summary>
    Task<bool> SaveJobAsync(BuildJob job, CancellationToken cancellationToken);

    /// <summary>The job saved for a build, or null.</summary>
    Task<BuildJob?> FindJobAsync(string buildId, CancellationToken cancellationToken);
}

public sealed class BuildStoreOptions
{
    public const string Section = "Wave:Build";

    /// <summary>Largest log kept per build, in characters (default 4 Mi); the rest of the output is dropped.</summary>
    public long MaxLogLength { get; set; } = 4 * 1024 * 1024;
}
