using Microsoft.Extensions.Options;

using Wave.Builder.Worker;
using Wave.Core.Builds;
using Wave.Core.Mirrors;
using Wave.Core.Persistence;

namespace Wave.Builder.Mirrors;

/// <summary>
/// The embedded mode's in-process queue dies with the process; its copies do not. At start-up every mirror the store
/// still has as PENDING or RUNNING is queued again from the job kept with it, as a redelivery. With RabbitMQ this is not
/// needed: unacknowledged jobs come back by themselves.
/// </summary>
public sealed class MirrorRecovery(IMirrorStore store, IBuildQueue queue, ILogger<MirrorRecovery> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (queue is not ChannelBuildQueue channel)
        {
            return;
        }
        foreach (var record in await store.ListUnfinishedAsync(cancellationToken))
        {
            if (await store.FindJobAsync(record.MirrorId, cancellationToken) is { } job)
            {
                logger.LogInformation("Mirror {MirrorId} was {Status} when Wave stopped: queued again", record.MirrorId, record.Status.ToWire());
                await channel.PublishRecoveredAsync(job.ToQueuedJob(), cancellationToken);
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// Ends copies no builder will finish (their job was set aside after repeated builder failures, or lost), so that the
/// clients polling the container status get an answer: RUNNING past the mirror timeout and a grace, or PENDING longer
/// than builds may wait (<see cref="StalledBuildOptions"/>).
/// </summary>
public sealed class StalledMirrorSweeper(IMirrorStore store, IOptions<StalledBuildOptions> stalled, IOptions<MirrorOptions> mirrors, TimeProvider time,
    ILogger<StalledMirrorSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(stalled.Value.SweepInterval, time);
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
                    logger.LogWarning(e, "Could not check for stalled mirrors");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var ended = 0;
        foreach (var record in await store.ListUnfinishedAsync(cancellationToken))
        {
            string? reason = null;
            if (record.Status == BuildStatus.Running && record.StartedAt is { } started && now - started > mirrors.Value.Timeout + stalled.Value.RunningGrace)
            {
                reason = $"lost: still RUNNING {(now - started).TotalMinutes:0} min after it started, beyond the {mirrors.Value.Timeout.TotalSeconds:0} s mirror timeout (its builder stopped)";
            }
            else if (record.Status == BuildStatus.Pending && now - record.CreatedAt > stalled.Value.MaxPendingTime)
            {
                reason = $"waited {(now - record.CreatedAt).TotalHours:0.0} h for a builder (limit {stalled.Value.MaxPendingTime.TotalHours:0.0} h)";
            }
            if (reason is not null
                && await store.TryCompleteAsync(record.MirrorId, null, new MirrorOutcome(false, null, reason, now - (record.StartedAt ?? record.CreatedAt), record.Counts), now, cancellationToken))
            {
                await store.AppendLogAsync(record.MirrorId, $"--- mirror ended by Wave: {reason} ---\n", cancellationToken);
                logger.LogWarning("Mirror {MirrorId} ended: {Reason}", record.MirrorId, reason);
                ended++;
            }
        }
        return ended;
    }
}
