using Microsoft.Extensions.Options;

using Wave.Core.Builds;
using Wave.Core.Persistence;

namespace Wave.Builder.Worker;

public sealed class StalledBuildOptions
{
    /// <summary>How often the store is checked for builds no builder will finish.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Slack beyond the build timeout before a RUNNING build is declared lost: the backend enforces the timeout
    /// itself, so a build still RUNNING after timeout + grace lost its builder and its job.
    /// </summary>
    public TimeSpan RunningGrace { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The longest a build may wait PENDING for a builder before it fails (default 6 h).</summary>
    public TimeSpan MaxPendingTime { get; set; } = TimeSpan.FromHours(6);
}

/// <summary>
/// Ends builds that no builder will ever finish — their job was lost, or set aside after repeated builder failures —
/// so that their pulls and status callers get an answer instead of waiting forever.
/// </summary>
public sealed class StalledBuildSweeper(IBuildStore store, IOptions<StalledBuildOptions> options, IOptions<BuildOptions> builds, TimeProvider time, ILogger<StalledBuildSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await SweepAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "Could not check for stalled builds");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var now = time.GetUtcNow();
        var ended = 0;
        foreach (var record in await store.ListUnfinishedAsync(cancellationToken))
        {
            string? reason = null;
            if (record.Status == BuildStatus.Running && record.StartedAt is { } started && now - started > builds.Value.BuildTimeout + settings.RunningGrace)
            {
                reason = $"lost: still RUNNING {(now - started).TotalMinutes:0} min after it started, beyond the {builds.Value.BuildTimeout.TotalSeconds:0} s build timeout (its builder stopped)";
            }
            else if (record.Status == BuildStatus.Pending && now - record.CreatedAt > settings.MaxPendingTime)
            {
                reason = $"waited {(now - record.CreatedAt).TotalHours:0.0} h for a builder (limit {settings.MaxPendingTime.TotalHours:0.0} h)";
            }
            if (reason is not null && await store.TryCompleteAsync(record.BuildId, new BuildOutcome(false, null, null, reason, now - (record.StartedAt ?? record.CreatedAt)), now, cancellationToken))
            {
                await store.AppendLogAsync(record.BuildId, $"--- build ended by Wave: {reason} ---\n", cancellationToken);
                logger.LogWarning("Build {BuildId} ended: {Reason}", record.BuildId, reason);
                ended++;
            }
        }
        return ended;
    }
}
