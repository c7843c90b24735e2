using System.Diagnostics;

using Microsoft.Extensions.Options;

using Wave.Core.Builds;
using Wave.Core.Persistence;
using Wave.Core.Registry;
using Wave.Core.Telemetry;

namespace Wave.Builder.Worker;

/// <summary>
/// Runs one delivered job to a terminal state: takes ownership of the build in the store, fetches remote layers, runs
/// the backend with the log going to the store, and records the outcome. Returning means "acknowledge"; throwing
/// (or being cancelled by shutdown) gives the job back to the queue. The store's conditional updates make a job that
/// is delivered twice end exactly once.
/// </summary>
public sealed class BuildRunner(
    IBuildStore store,
    IBuildBackend backend,
    RemoteLayerFetcher layers,
    IOptions<RegistryOptions> registries,
    TimeProvider time,
    ILogger<BuildRunner> logger)
{
    // Builds this process is running now. A broker restart (or a dropped connection) sends a job back to the queue
    // while its build goes on here; the recovered consumer then receives it again. That redelivery must not start a
    // second run of the same build: it waits for the run in progress and is acknowledged with it.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Task> _running = new(StringComparer.Ordinal);

    public async Task RunAsync(BuildDelivery delivery, CancellationToken cancellationToken)
    {
        using var activity = WaveTelemetry.ActivitySource.StartActivity(WaveTelemetry.Spans.Build);
        activity?.SetTag(WaveTelemetry.Tags.BuildId, delivery.Job.BuildId);
        activity?.SetTag("wave.build.delivery", delivery.DeliveryCount);
        try
        {
            await RunUnobservedAsync(delivery, cancellationToken);
        }
        catch (Exception e)
        {
            WaveTelemetry.Fail(activity, e);
            throw;
        }
    }

    private async Task RunUnobservedAsync(BuildDelivery delivery, CancellationToken cancellationToken)
    {
        var job = delivery.Job;
        var run = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_running.TryAdd(job.BuildId, run.Task))
        {
            if (_running.TryGetValue(job.BuildId, out var inProgress))
            {
                logger.LogInformation("Build {BuildId} delivered again (delivery {Delivery}) while it runs here: the queue's connection was recovered; waiting for the run in progress",
                    job.BuildId, delivery.DeliveryCount);
                await TryAppendAsync(job.BuildId,
                    $"--- the build queue's connection was lost and recovered while this build ran (delivery {delivery.DeliveryCount}); the build kept running ---\n",
                    cancellationToken);
                // Throws when the run in progress failed without recording an outcome: this delivery is then returned
                // to the queue, and the next one runs the build again.
                await inProgress.WaitAsync(cancellationToken);
                return;
            }
            // It ended between the two look-ups: the store says what is left to do.
            await RunAsync(delivery, cancellationToken);
            return;
        }
        try
        {
            await RunOnceAsync(delivery, cancellationToken);
            run.TrySetResult();
        }
        catch (Exception e)
        {
            run.TrySetException(e);
            throw;
        }
        finally
        {
            _running.TryRemove(job.BuildId, out _);
            // Nobody may be waiting: do not let an unobserved failure surface on the finalizer thread.
            _ = run.Task.Exception;
        }
    }

    /// <summary>How long a store write is tried again while the database is unreachable, before the job goes back to the queue.</summary>
    public static TimeSpan StoreRetryTime { get; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// A store call tried again while the database cannot be reached (restarting, failing over): a job given back at
    /// once would come straight back and use up its deliveries in seconds, and a build that ran would be run again.
    /// </summary>
    private async Task<bool> RetryAsync(string what, string buildId, Func<CancellationToken, Task<bool>> call, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            try
            {
                return await call(cancellationToken);
            }
            catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException && time.GetElapsedTime(started) < StoreRetryTime)
            {
                logger.LogWarning("Could not {What} build {BuildId} in the store ({Error}); trying again in {Delay:0.0} s", what, buildId, e.Message, delay.TotalSeconds);
                await Task.Delay(delay, time, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    private async Task TryAppendAsync(string buildId, string text, CancellationToken cancellationToken)
    {
        try
        {
            await store.AppendLogAsync(buildId, text, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Could not add to the log of build {BuildId}", buildId);
        }
    }

    private async Task RunOnceAsync(BuildDelivery delivery, CancellationToken cancellationToken)
    {
        var job = delivery.Job;
        if (!await RetryAsync("take", job.BuildId, ct => store.TryMarkRunningAsync(job.BuildId, time.GetUtcNow(), delivery.Redelivered, ct), cancellationToken))
        {
            var record = await store.FindAsync(job.BuildId, cancellationToken);
            logger.LogInformation("Build {BuildId} is not taken (delivery {Delivery}): it is {State}",
                job.BuildId, delivery.DeliveryCount, record is null ? "unknown" : record.Status.ToWire());
            return;
        }
        logger.LogInformation("Build {BuildId} of {TargetImage} ({Platform}) started (delivery {Delivery})",
            job.BuildId, job.TargetImage, job.Platform, delivery.DeliveryCount);
        WaveTelemetry.RecordBuildStarted();

        var sink = new StoreLogSink(store, job.BuildId, time, logger);
        BuildOutcome outcome;
        try
        {
            if (delivery.Redelivered)
            {
                await sink.AppendAsync($"--- build started again: the builder that ran it stopped before it finished (delivery {delivery.DeliveryCount}) ---\n", cancellationToken);
            }
            outcome = await BuildAsync(job, sink, cancellationToken);
            await RetryAsync("write the log of", job.BuildId, async ct =>
            {
                await sink.FlushAsync(ct);
                return true;
            }, cancellationToken);
        }
        finally
        {
            await sink.DisposeAsync();
        }

        if (outcome.Succeeded && job.ContextFiles.ContainsKey(Core.Builds.Templates.CondaTemplate.EnvironmentFileName))
        {
            await KeepCondaLockAsync(job.BuildId, cancellationToken);
        }
        // Once the build ran, its outcome is recorded even if shutdown began meanwhile.
        if (await RetryAsync("record the outcome of", job.BuildId, ct => store.TryCompleteAsync(job.BuildId, outcome, time.GetUtcNow(), ct), CancellationToken.None))
        {
            WaveTelemetry.RecordBuildCompleted(outcome.Succeeded, outcome.Duration);
            Activity.Current?.SetTag(WaveTelemetry.Tags.BuildResult, outcome.Succeeded ? "succeeded" : "failed");
            logger.LogInformation("Build {BuildId} completed: {Result} in {Duration:0.0} s", job.BuildId,
                outcome.Succeeded ? "succeeded" : "failed (" + outcome.FailureReason + ")", outcome.Duration.TotalSeconds);
        }
        else
        {
            logger.LogWarning("Build {BuildId} had already been completed elsewhere; this run's outcome is not recorded", job.BuildId);
        }
    }

    private async Task<BuildOutcome> BuildAsync(BuildJob job, StoreLogSink sink, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var (fetched, problem) = await layers.FetchAsync(job, cancellationToken);
        if (fetched is null)
        {
            await sink.AppendAsync(problem + "\n", cancellationToken);
            return new BuildOutcome(false, null, null, problem, time.GetElapsedTime(started));
        }
        return await backend.RunAsync(fetched, PushCredentials(), sink, cancellationToken);
    }

    /// <summary>The configured registry credentials by host: for the push, the cache, and private base images.</summary>
    private Dictionary<string, RegistryCredentials> PushCredentials()
    {
        var credentials = new Dictionary<string, RegistryCredentials>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in registries.Value.Registries)
        {
            if (!string.IsNullOrEmpty(entry.Username) && !string.IsNullOrEmpty(entry.Host))
            {
                credentials[entry.Host] = new RegistryCredentials(entry.Username, entry.Password ?? "");
            }
        }
        return credentials;
    }

    private async Task KeepCondaLockAsync(string buildId, CancellationToken cancellationToken)
    {
        var log = await store.ReadLogAsync(buildId, 0, cancellationToken);
        if (log is not null && CondaLock.Extract(log.Text) is { } condaLock)
        {
            await store.SetCondaLockAsync(buildId, condaLock, cancellationToken);
        }
        else
        {
            logger.LogWarning("Conda build {BuildId} printed no lock between its markers", buildId);
        }
    }
}
