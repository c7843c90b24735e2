namespace Wave.Builder.Worker;

/// <summary>
/// Takes build jobs from the queue and runs them. Builds are not enabled yet (see the builds issue): the worker
/// starts, reports healthy and idles, so that the topology is the one later builds run in.
/// </summary>
public sealed class BuildWorker(ILogger<BuildWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        logger.LogInformation("Builder started; builds are not enabled, idling");
        try
        {
            await Task.Delay(Timeout.Infinite, stoppingToken);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
