using System.Collections.Concurrent;
using System.Diagnostics;

using Microsoft.Extensions.Options;

using Wave.Builder.Worker;
using Wave.Core.Mirrors;
using Wave.Core.Persistence;
using Wave.Core.Telemetry;

namespace Wave.Builder.Mirrors;

/// <summary>
/// Runs one delivered mirror job to a terminal state, as <see cref="BuildRunner"/> runs a build: it takes the copy's
/// lease in the mirror store (a job delivered to two builders copies on one of them), renews it while the copy runs,
/// ends the copy at its timeout, and records the outcome once. Returning acknowledges the job; throwing, or shutdown,
/// gives it back to the queue, and its next delivery copies again: blobs the target got meanwhile are skipped, so a
/// copy cut short by a crash resumes where it stopped, under the same id.
/// </summary>
public sealed class MirrorRunner(
    IMirrorStore store,
    MirrorCopier copier,
    IOptions<BuildLeaseOptions> leaseOptions,
    TimeProvider time,
    ILogger<MirrorRunner> logger)
{
    // Copies running in this process: a redelivery after a broker reconnection waits for the run in progress.
    private readonly ConcurrentDictionary<string, Task> _running = new(StringComparer.Ordinal);

    /// <summary>Who this builder is to the mirror store's leases: unique per process start.</summary>
    public string InstanceId { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/mirror-{Guid.NewGuid().ToString("N")[..12]}";

    public async Task RunAsync(BuildDelivery delivery, CancellationToken cancellationToken)
    {
        var job = delivery.Job.Mirror ?? throw new ArgumentException($"job {delivery.Job.BuildId} is not a mirror job", nameof(delivery));
        using var activity = WaveTelemetry.ActivitySource.StartActivity(MirrorTelemetry.Span);
        activity?.SetTag(MirrorTelemetry.MirrorIdTag, job.MirrorId);
        var run = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_running.TryAdd(job.MirrorId, run.Task))
        {
            if (_running.TryGetValue(job.MirrorId, out var inProgress))
            {
                logger.LogInformation("Mirror {MirrorId} delivered again (delivery {Delivery}) while it copies here; waiting for that copy", job.MirrorId, delivery.DeliveryCount);
                await inProgress.WaitAsync(cancellationToken);
                return;
            }
            await RunAsync(delivery, cancellationToken);
            return;
        }
        try
        {
            await RunOnceAsync(job, delivery, cancellationToken);
            run.TrySetResult();
        }
        catch (Exception e)
        {
            WaveTelemetry.Fail(activity, e);
            run.TrySetException(e);
            throw;
        }
        finally
        {
            _running.TryRemove(job.MirrorId, out _);
            _ = run.Task.Exception;
        }
    }

    private BuildLeaseOptions Lease
    {
        get
        {
            var options = leaseOptions.Value;
            options.Validate();
            return options;
        }
    }

    private async Task RunOnceAsync(MirrorJob job, BuildDelivery delivery, CancellationToken cancellationToken)
    {
        var lease = await TakeLeaseAsync(job, delivery, cancellationToken);
        if (lease is null)
        {
            return;
        }
        logger.LogInformation("Mirror {MirrorId} of {SourceImage} to {TargetImage} started (delivery {Delivery}, builder {Builder})",
            job.MirrorId, job.SourceImage, job.TargetImage, delivery.DeliveryCount, InstanceId);
        MirrorTelemetry.RecordStarted();

        var settings = Lease;
        await using var held = new HeldLease($"mirror {job.MirrorId}",
            ct => store.TryTakeLeaseAsync(job.MirrorId, InstanceId, time.GetUtcNow(), settings.Timeout, ct),
            ct => store.ReleaseLeaseAsync(job.MirrorId, InstanceId, ct), settings, time, logger, cancellationToken);
        MirrorOutcome outcome;
        var sink = new StoreLogSink(async (text, ct) => await store.AppendLogAsync(job.MirrorId, text, ct), job.MirrorId, time, logger);
        try
        {
            if (lease.Status == BuildStatus.Running)
            {
                await sink.AppendAsync(lease.Owner is null
                    ? $"--- mirror started again: the builder that copied it stopped before it finished (delivery {delivery.DeliveryCount}); blobs already copied are skipped ---\n"
                    : $"--- mirror started again: the builder that copied it stopped renewing its lease (delivery {delivery.DeliveryCount}); blobs already copied are skipped ---\n",
                    cancellationToken);
            }
            using var timeout = new CancellationTokenSource(job.Timeout, time);
            using var copy = CancellationTokenSource.CreateLinkedTokenSource(held.RunToken, timeout.Token);
            try
            {
                outcome = await copier.CopyAsync(job, sink, copy.Token);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !held.RunToken.IsCancellationRequested)
            {
                var reason = $"timed out after {job.Timeout.TotalSeconds:0} s (Wave:Mirror:Timeout)";
                await sink.AppendAsync($"[mirror] failed: {reason}\n", CancellationToken.None);
                outcome = new MirrorOutcome(false, null, reason, job.Timeout, MirrorCounts.None);
            }
            await RetryAsync("write the log of", job.MirrorId, async ct =>
            {
                await sink.FlushAsync(ct);
                return true;
            }, cancellationToken);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && held.Lost is { } lost)
        {
            held.Settle();
            await sink.FlushAsync(CancellationToken.None);
            logger.LogWarning("Mirror {MirrorId}: this builder lost its lease ({Outcome}); its copy stopped, the holder finishes it", job.MirrorId, lost.Outcome);
            return;
        }
        finally
        {
            await sink.DisposeAsync();
        }
        await held.StopRenewingAsync();
        held.Settle();
        if (held.Lost is not null)
        {
            return;
        }
        if (await RetryAsync("record the outcome of", job.MirrorId, ct => store.TryCompleteAsync(job.MirrorId, InstanceId, outcome, time.GetUtcNow(), ct), CancellationToken.None))
        {
            MirrorTelemetry.RecordCompleted(outcome.Succeeded, outcome.Duration);
            Activity.Current?.SetTag(MirrorTelemetry.ResultTag, outcome.Succeeded ? "succeeded" : "failed");
            logger.LogInformation("Mirror {MirrorId} completed: {Result} in {Duration:0.0} s ({Copied} blobs copied, {Skipped} already there)", job.MirrorId,
                outcome.Succeeded ? "succeeded" : "failed (" + outcome.FailureReason + ")", outcome.Duration.TotalSeconds, outcome.Counts.BlobsCopied, outcome.Counts.BlobsSkipped);
        }
        else
        {
            logger.LogWarning("Mirror {MirrorId} had been completed elsewhere, or its lease was taken over; this run's outcome is not recorded", job.MirrorId);
        }
    }

    /// <summary>
    /// Takes the lease for this builder; while another live builder holds it (the job was handed out twice), waits until
    /// the copy completes there (null: acknowledge) or that builder's heartbeat expires (it died: the copy runs here).
    /// Null too for a completed or unknown copy.
    /// </summary>
    private async Task<BuildLease?> TakeLeaseAsync(MirrorJob job, BuildDelivery delivery, CancellationToken cancellationToken)
    {
        var settings = Lease;
        var waitStarted = time.GetTimestamp();
        var longestWait = job.Timeout + settings.Timeout * 2 + TimeSpan.FromMinutes(1);
        var announced = false;
        while (true)
        {
            var lease = await RetryAsync("take", job.MirrorId, ct => store.TryTakeLeaseAsync(job.MirrorId, InstanceId, time.GetUtcNow(), settings.Timeout, ct), cancellationToken);
            switch (lease.Outcome)
            {
                case BuildLeaseOutcome.Acquired:
                    return lease;
                case BuildLeaseOutcome.HeldByAnother:
                    if (!announced)
                    {
                        announced = true;
                        logger.LogInformation("Mirror {MirrorId} delivered here (delivery {Delivery}) while builder {Owner} copies it; waiting", job.MirrorId, delivery.DeliveryCount, lease.Owner);
                    }
                    if (time.GetElapsedTime(waitStarted) > longestWait)
                    {
                        logger.LogWarning("Mirror {MirrorId} is still copied by builder {Owner}; this delivery is acknowledged and the copy left to its owner", job.MirrorId, lease.Owner);
                        return null;
                    }
                    await Task.Delay(settings.PollInterval, time, cancellationToken);
                    break;
                default:
                    logger.LogInformation("Mirror {MirrorId} is not taken (delivery {Delivery}): it is {State}", job.MirrorId, delivery.DeliveryCount,
                        lease.Outcome == BuildLeaseOutcome.Completed ? "COMPLETED" : "unknown");
                    return null;
            }
        }
    }

    private Task<T> RetryAsync<T>(string what, string mirrorId, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken) =>
        StoreRetry.RunAsync(what, $"mirror {mirrorId}", call, time, logger, cancellationToken);
}
