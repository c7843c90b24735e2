using Wave.Core.Persistence;

namespace Wave.Builder.Worker;

/// <summary>
/// Takes jobs from the build queue and runs each to its end, as many at once as the queue's concurrency allows: builds
/// on <see cref="BuildRunner"/>, mirror jobs (<see cref="Core.Builds.BuildJob.Mirror"/>) on <see cref="Mirrors.MirrorRunner"/>.
/// </summary>
public sealed class BuildWorker(IBuildQueue queue, BuildRunner runner, Mirrors.MirrorRunner mirrors, BuildQueueOptions options, ILogger<BuildWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        logger.LogInformation("Builder takes jobs from {Queue}, {Concurrency} at a time", queue.GetType().Name, options.Concurrency);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await queue.ConsumeAsync((delivery, cancellationToken) => delivery.Job.Mirror is null
                    ? runner.RunAsync(delivery, cancellationToken)
                    : mirrors.RunAsync(delivery, cancellationToken), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // The broker went away: its unacknowledged jobs are delivered again once we are back.
                logger.LogWarning(e, "Build queue consumer stopped; starting again in 2 s");
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }
}
