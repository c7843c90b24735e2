namespace Wave.Core.Persistence;

/// <summary>What <see cref="IBuildStore.TryTakeLeaseAsync"/> found, and so whether the caller holds the build's lease now.</summary>
public enum BuildLeaseOutcome
{
    /// <summary>No build has that id.</summary>
    UnknownBuild,

    /// <summary>The build is COMPLETED: there is nothing left to run.</summary>
    Completed,

    /// <summary>Another builder holds the lease and its heartbeat is younger than the lease timeout.</summary>
    HeldByAnother,

    /// <summary>The caller holds the lease now (taken, renewed, or taken over from an owner whose heartbeat expired).</summary>
    Acquired,
}

/// <summary>
/// The answer of a take-or-renew of a build's lease. <see cref="Status"/>, <see cref="Owner"/> and
/// <see cref="HeartbeatAt"/> describe the build as it was found, before this call changed it: for
/// <see cref="BuildLeaseOutcome.HeldByAnother"/> the builder that holds it and its last heartbeat; for
/// <see cref="BuildLeaseOutcome.Acquired"/> whether the build was PENDING (a first start) or RUNNING (a renewal when
/// <see cref="Owner"/> is the caller, a take-over otherwise), and whose lease it was.
/// </summary>
public sealed record BuildLease(BuildLeaseOutcome Outcome, BuildStatus? Status = null, string? Owner = null, DateTimeOffset? HeartbeatAt = null)
{
    public bool Acquired => Outcome == BuildLeaseOutcome.Acquired;
}

/// <summary>Who holds a build's lease, and when it last renewed it.</summary>
public sealed record BuildLeaseHolder(string Owner, DateTimeOffset HeartbeatAt);
