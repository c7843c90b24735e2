namespace Wave.Builder.Worker;

/// <summary>
/// The lease a builder holds on each build it runs (configuration section <see cref="Section"/>): it renews the lease's
/// heartbeat in the build store every <see cref="RenewInterval"/>, and another builder may take the build over only once
/// the heartbeat is older than <see cref="Timeout"/>, i.e. its owner died.
/// </summary>
public sealed class BuildLeaseOptions
{
    public const string Section = "Wave:Build:Lease";

    /// <summary>
    /// How old a heartbeat may get before its builder counts as gone (default 30 s): the longest a job delivered again
    /// after its builder died waits before it runs the build again. Builders' clocks must agree to well within it.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a running build's lease is renewed; unset (or zero): a third of <see cref="Timeout"/>.</summary>
    public TimeSpan? RenewInterval { get; set; }

    /// <summary>How often a job whose build runs on another builder looks at the store again while it waits (default 2 s).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    public TimeSpan EffectiveRenewInterval => RenewInterval is { } interval && interval > TimeSpan.Zero ? interval : Timeout / 3;

    public void Validate()
    {
        if (Timeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "the build lease timeout must be positive");
        }
        if (EffectiveRenewInterval >= Timeout)
        {
            throw new ArgumentOutOfRangeException(nameof(RenewInterval), RenewInterval,
                $"the build lease must be renewed more often than its timeout ({Timeout.TotalSeconds:0.###} s)");
        }
        if (PollInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(PollInterval), PollInterval, "the build lease poll interval must be positive");
        }
    }
}
