using Wave.Core.Persistence;

namespace Wave.Builder.Worker;

/// <summary>
/// The embedded mode's in-process queue dies with the process; its builds do not. At start-up every build the store
/// still has as PENDING or RUNNING is queued again from its saved job, as a redelivery (its previous run, if any,
/// died with the process). With RabbitMQ this is not needed and not done: unacknowledged jobs come back by themselves.
/// </summary>
public sealed class BuildRecovery(IBuildStore store, IBuildQueue queue, TimeProvider time, ILogger<BuildRecovery> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (queue is not ChannelBuildQueue channel)
        {
            return;
        }
        foreach (var record in await store.ListUnfinishedAsync(cancellationToken))
        {
            var job = await store.FindJobAsync(record.BuildId, cancellationToken);
            if (job is null)
            {
                await store.TryCompleteAsync(record.BuildId,
                    new Core.Builds.BuildOutcome(false, null, null, "interrupted by a restart, and its job was not saved: request it again", TimeSpan.Zero),
                    time.GetUtcNow(), cancellationToken);
                continue;
            }
            logger.LogInformation("Build {BuildId} was {Status} when Wave stopped: queued again", record.BuildId, record.Status.ToWire());
            await channel.PublishRecoveredAsync(job, cancellationToken);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
