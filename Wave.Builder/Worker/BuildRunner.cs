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
        if (!await store.TryMarkRunningAsync(job.BuildId, time.GetUtcNow(), delivery.Redelivered, cancellationToken))
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
            await sink.FlushAsync(cancellationToken);
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
        if (await store.TryCompleteAsync(job.BuildId, outcome, time.GetUtcNow(), CancellationToken.None))
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
