using System.Diagnostics;

using Microsoft.Extensions.Options;

using Wave.Core.Builds;
using Wave.Core.Persistence;
using Wave.Core.Registry;
using Wave.Core.Telemetry;

namespace Wave.Builder.Worker;

/// <summary>
/// Runs one delivered job to a terminal state: takes the build's lease in the store, fetches remote layers, runs the
/// backend with the log going to the store while renewing the lease, and records the outcome. Returning means
/// "acknowledge"; throwing (or being cancelled by shutdown) gives the job back to the queue. The lease makes a job that
/// is delivered to two builders run on one of them only, and the store's conditional updates make it end exactly once.
/// </summary>
public sealed class BuildRunner(
    IBuildStore store,
    IBuildBackend backend,
    RemoteLayerFetcher layers,
    IOptions<RegistryOptions> registries,
    IOptions<BuildLeaseOptions> leaseOptions,
    TimeProvider time,
    ILogger<BuildRunner> logger)
{
    // Builds this process is running now. A broker restart (or a dropped connection) sends a job back to the queue
    // while its build goes on here; the recovered consumer then receives it again. That redelivery must not start a
    // second run of the same build: it waits for the run in progress and is acknowledged with it. (Delivered to another
    // builder instead, it finds the build's lease held and waits there: see TakeLeaseAsync.)
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Task> _running = new(StringComparer.Ordinal);

    /// <summary>
    /// Who this builder is to the build store's leases: unique per runner (one per builder process), never reused, so
    /// that a restarted builder does not mistake its predecessor's leases for its own.
    /// </summary>
    public string InstanceId { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..12]}";

    private BuildLeaseOptions Lease
    {
        get
        {
            var options = leaseOptions.Value;
            options.Validate();
            return options;
        }
    }

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

    /// <summary>A store call tried again while the database cannot be reached: see <see cref="StoreRetry"/>.</summary>
    private Task<T> RetryAsync<T>(string what, string buildId, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken) =>
        StoreRetry.RunAsync(what, $"build {buildId}", call, time, logger, cancellationToken);

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
        var lease = await TakeLeaseAsync(delivery, cancellationToken);
        if (lease is null)
        {
            return;
        }
        var restarted = lease.Status == BuildStatus.Running;
        logger.LogInformation("Build {BuildId} of {TargetImage} ({Platform}) started (delivery {Delivery}, builder {Builder})",
            job.BuildId, job.TargetImage, job.Platform, delivery.DeliveryCount, InstanceId);
        WaveTelemetry.RecordBuildStarted();

        // The lease is renewed until the outcome is about to be recorded; should it be lost meanwhile (another builder
        // took it over after this one could not renew it in time), the backend is cancelled and this run ends without an
        // outcome: the build belongs to the lease's holder now. Ended without an outcome otherwise, the lease is released.
        var settings = Lease;
        await using var held = new HeldLease($"build {job.BuildId}",
            ct => store.TryTakeLeaseAsync(job.BuildId, InstanceId, time.GetUtcNow(), settings.Timeout, ct),
            ct => store.ReleaseLeaseAsync(job.BuildId, InstanceId, ct), settings, time, logger, cancellationToken);
        var sink = new StoreLogSink(store, job.BuildId, time, logger);
        BuildOutcome outcome;
        try
        {
            if (restarted)
            {
                await sink.AppendAsync(lease.Owner is null
                    ? $"--- build started again: the builder that ran it stopped before it finished (delivery {delivery.DeliveryCount}) ---\n"
                    : $"--- build started again: the builder that ran it stopped renewing its lease {Since(lease.HeartbeatAt)} (delivery {delivery.DeliveryCount}) ---\n",
                    cancellationToken);
            }
            outcome = await BuildAsync(job, sink, held.RunToken);
            await RetryAsync("write the log of", job.BuildId, async ct =>
            {
                await sink.FlushAsync(ct);
                return true;
            }, cancellationToken);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && held.Lost is { } lost)
        {
            held.Settle();
            await LostLeaseAsync(job.BuildId, lost, sink);
            return;
        }
        finally
        {
            await sink.DisposeAsync();
        }

        if (outcome.Succeeded && PrintsCondaLock(job))
        {
            await KeepCondaLockAsync(job, cancellationToken);
        }
        await held.StopRenewingAsync();
        held.Settle();
        if (held.Lost is { } lostAfterRun)
        {
            await LostLeaseAsync(job.BuildId, lostAfterRun, null);
            return;
        }
        // Once the build ran, its outcome is recorded even if shutdown began meanwhile; only the lease's holder may.
        if (await RetryAsync("record the outcome of", job.BuildId, ct => store.TryCompleteAsync(job.BuildId, InstanceId, outcome, time.GetUtcNow(), ct), CancellationToken.None))
        {
            WaveTelemetry.RecordBuildCompleted(outcome.Succeeded, outcome.Duration);
            Activity.Current?.SetTag(WaveTelemetry.Tags.BuildResult, outcome.Succeeded ? "succeeded" : "failed");
            logger.LogInformation("Build {BuildId} completed: {Result} in {Duration:0.0} s", job.BuildId,
                outcome.Succeeded ? "succeeded" : "failed (" + outcome.FailureReason + ")", outcome.Duration.TotalSeconds);
        }
        else
        {
            logger.LogWarning("Build {BuildId} had already been completed elsewhere, or another builder took its lease over; this run's outcome is not recorded",
                job.BuildId);
        }
    }

    /// <summary>
    /// Takes the build's lease for this builder. When another live builder holds it (the job was handed out again while
    /// the build runs there, as after a broker restart), waits, bounded by the build's timeout and a margin, until the
    /// build is completed (null: acknowledge) or that builder's heartbeat expires (it died: the lease is taken over and
    /// the build runs here again). Null too for a build that is completed or unknown.
    /// </summary>
    private async Task<BuildLease?> TakeLeaseAsync(BuildDelivery delivery, CancellationToken cancellationToken)
    {
        var job = delivery.Job;
        var settings = Lease;
        var waitStarted = time.GetTimestamp();
        var longestWait = job.Timeout + settings.Timeout * 2 + TimeSpan.FromMinutes(1);
        string? waitingFor = null;
        while (true)
        {
            var lease = await RetryAsync("take", job.BuildId,
                ct => store.TryTakeLeaseAsync(job.BuildId, InstanceId, time.GetUtcNow(), settings.Timeout, ct), cancellationToken);
            switch (lease.Outcome)
            {
                case BuildLeaseOutcome.Acquired:
                    if (waitingFor is not null)
                    {
                        logger.LogWarning("Build {BuildId}: builder {Owner} stopped renewing its lease {Since}; it is run here again (delivery {Delivery})",
                            job.BuildId, lease.Owner ?? waitingFor, Since(lease.HeartbeatAt), delivery.DeliveryCount);
                    }
                    return lease;
                case BuildLeaseOutcome.HeldByAnother:
                    if (!string.Equals(waitingFor, lease.Owner, StringComparison.Ordinal))
                    {
                        waitingFor = lease.Owner;
                        logger.LogInformation("Build {BuildId} delivered here (delivery {Delivery}) while builder {Owner} runs it; waiting for that run",
                            job.BuildId, delivery.DeliveryCount, lease.Owner);
                        await TryAppendAsync(job.BuildId,
                            $"--- this build's job was delivered to another builder too (delivery {delivery.DeliveryCount}); it waits for the run in progress instead of building twice ---\n",
                            cancellationToken);
                    }
                    if (time.GetElapsedTime(waitStarted) > longestWait)
                    {
                        logger.LogWarning("Build {BuildId} is still run by builder {Owner} after {Minutes:0} min of waiting; this delivery is acknowledged and the build left to its owner (and the stalled-build sweeper)",
                            job.BuildId, lease.Owner, time.GetElapsedTime(waitStarted).TotalMinutes);
                        return null;
                    }
                    await Task.Delay(settings.PollInterval, time, cancellationToken);
                    break;
                default:
                    logger.LogInformation("Build {BuildId} is not taken (delivery {Delivery}): it is {State}",
                        job.BuildId, delivery.DeliveryCount, lease.Outcome == BuildLeaseOutcome.Completed ? "COMPLETED" : "unknown");
                    return null;
            }
        }
    }

    private async Task LostLeaseAsync(string buildId, BuildLease lost, StoreLogSink? sink)
    {
        var text = lost.Outcome == BuildLeaseOutcome.HeldByAnother
            ? $"--- this builder could not renew its lease in time and builder {lost.Owner} took the build over; this run stopped ---\n"
            : "--- the build was completed elsewhere while this builder ran it; this run stopped ---\n";
        if (sink is not null)
        {
            // What the stopped run printed, then why it stopped.
            await sink.AppendAsync(text, CancellationToken.None);
            try
            {
                await sink.FlushAsync(CancellationToken.None);
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Could not add to the log of build {BuildId}", buildId);
            }
        }
        else
        {
            await TryAppendAsync(buildId, text, CancellationToken.None);
        }
        logger.LogWarning("Build {BuildId}: run stopped without an outcome, the lease is {Outcome} ({Owner}); this delivery is acknowledged",
            buildId, lost.Outcome, lost.Owner ?? "none");
    }

    private string Since(DateTimeOffset? heartbeat) =>
        heartbeat is { } at ? $"{(time.GetUtcNow() - at).TotalSeconds:0} s ago" : "long ago";

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

    /// <summary>Conda environment files, lock files and pixi projects: the templates that print the resolved lock.</summary>
    private static bool PrintsCondaLock(BuildJob job) =>
        job.ContextFiles.ContainsKey(Core.Builds.Templates.CondaTemplate.EnvironmentFileName)
        || job.ContextFiles.ContainsKey(Core.Builds.Templates.CondaTemplate.LockFileName)
        || job.RemoteFiles.Any(f => f.Path == Core.Builds.Templates.CondaTemplate.LockFileName);

    private async Task KeepCondaLockAsync(BuildJob job, CancellationToken cancellationToken)
    {
        var buildId = job.BuildId;
        var log = await store.ReadLogAsync(buildId, 0, cancellationToken);
        var text = log?.Text;
        if (text is not null && job.Platforms.Count > 1)
        {
            // The platforms' builds write their lines interleaved, each prefixed with its platform; the lock kept is
            // the first platform's (each architecture resolves its own packages).
            var prefix = $"[{job.Platforms[0]}] ";
            text = string.Join('\n', text.Split('\n').Where(line => line.StartsWith(prefix, StringComparison.Ordinal)).Select(line => line[prefix.Length..]));
        }
        if (text is not null && CondaLock.Extract(text) is { } condaLock)
        {
            await store.SetCondaLockAsync(buildId, condaLock, cancellationToken);
        }
        else
        {
            logger.LogWarning("Conda build {BuildId} printed no lock between its markers", buildId);
        }
    }
}
