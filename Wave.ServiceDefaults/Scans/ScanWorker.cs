using System.Collections.Concurrent;
using System.Data.Common;

using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

using Wave.Core.Persistence;
using Wave.Core.Scans;

namespace Wave.ServiceDefaults.Scans;

/// <summary>
/// Runs the scans of this process: <see cref="ScanOptions.Concurrency"/> at once from <see cref="ContainerScanService.Jobs"/>;
/// renews the lease of every scan it holds (queued or running) every third of <see cref="ScanOptions.LeaseTimeout"/>
/// and stops a scan whose lease another process took; and every <see cref="ScanOptions.SweepInterval"/> takes over
/// pending scans whose runner stopped renewing (a process that died, or this one before a restart). A scan of a
/// build's image waits, without taking a slot, until the build completed (<see cref="ScanOptions.BuildPollInterval"/>). An outcome is
/// recorded once, by the lease holder, with retries while the store is unavailable.
/// </summary>
public sealed class ScanWorker(ContainerScanService scans, ScanRunner runner, IScanStore store, IBuildStore builds, VulnerabilityDatabaseSource databases,
    IOptions<ScanOptions> options, TimeProvider time, ILogger<ScanWorker> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _running = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.Enabled)
        {
            return;
        }
        _ = WarmAsync(stoppingToken);
        var loops = Enumerable.Range(0, Math.Max(1, settings.Concurrency)).Select(_ => RunJobsAsync(stoppingToken)).ToList();
        loops.Add(RenewLeasesAsync(settings, stoppingToken));
        loops.Add(SweepAsync(settings, stoppingToken));
        try
        {
            await Task.WhenAll(loops);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Reads the database before the first scan needs it, so that a bad setting shows in the log at start-up.</summary>
    private async Task WarmAsync(CancellationToken stoppingToken)
    {
        try
        {
            await databases.GetAsync(stoppingToken);
        }
        catch (ScanException e)
        {
            logger.LogError("Scans will fail until this is fixed: {Reason}", e.Message);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task RunJobsAsync(CancellationToken stoppingToken)
    {
        await foreach (var job in scans.Jobs.ReadAllAsync(stoppingToken))
        {
            using var lease = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            _running[job.Scan.Id] = lease;
            var keep = false;
            try
            {
                var (ready, scan, early) = await PrepareAsync(job, stoppingToken);
                if (!ready)
                {
                    // The build is still running: look again later, without holding a scan slot.
                    keep = true;
                    _ = RequeueLaterAsync(job, stoppingToken);
                    continue;
                }
                var outcome = early ?? await runner.RunAsync(scan, job.Credentials, lease.Token);
                // From when the scan was asked for, as the record's start time is (a taken-over scan counts its wait).
                var duration = TimeSpan.FromTicks(Math.Max(0, (time.GetUtcNow() - job.Scan.StartTime).Ticks));
                var recorded = await RetryAsync(ct => store.CompleteAsync(job.Scan.Id, scans.InstanceId, outcome, duration, ct), stoppingToken);
                logger.LogInformation("Scan {ScanId} of {Image}: {Status}{Note}", job.Scan.Id, scan.ContainerImage, outcome.Status,
                    recorded ? "" : " (not recorded: another process holds the scan now)");
            }
            catch (OperationCanceledException) when (lease.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("Scan {ScanId} stopped here: another process took it over", job.Scan.Id);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                // Shutting down: the lease runs out and another process (or this one after its restart) takes the scan over.
                return;
            }
            catch (Exception e) when (e is DbException or InvalidOperationException)
            {
                logger.LogError(e, "Scan {ScanId}: the outcome could not be recorded; the scan will be taken over once its lease runs out", job.Scan.Id);
            }
            finally
            {
                _running.TryRemove(job.Scan.Id, out _);
                if (!keep)
                {
                    scans.Release(job.Scan.Id);
                }
            }
        }
    }

    /// <summary>
    /// A scan of a build's image runs once the build succeeded, on the digest it pushed; when the build failed there
    /// is nothing to scan and the scan fails saying so.
    /// </summary>
    private async Task<(bool Ready, ScanRecord Scan, ScanOutcome? Outcome)> PrepareAsync(ScanJob job, CancellationToken stoppingToken)
    {
        if (job.Scan.BuildId is not { } buildId)
        {
            return (true, job.Scan, null);
        }
        var build = await RetryAsync(ct => builds.FindAsync(buildId, ct), stoppingToken);
        if (build is null)
        {
            return (true, job.Scan, ScanOutcome.Failure($"[wave] build {buildId} is unknown: there is no image to scan\n"));
        }
        if (build.Status != BuildStatus.Completed)
        {
            return (false, job.Scan, null);
        }
        if (build.Succeeded != true)
        {
            return (true, job.Scan, ScanOutcome.Failure($"[wave] build {buildId} did not succeed ({build.FailureReason ?? "failed"}): there is no image to scan\n"));
        }
        var image = Wave.Core.Names.ImageReference.Parse(job.Scan.ContainerImage);
        return (true, build.ImageDigest is { } digest ? job.Scan with { ContainerImage = (image with { Digest = digest }).ToString() } : job.Scan, null);
    }

    private async Task RequeueLaterAsync(ScanJob job, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(options.Value.BuildPollInterval, time, stoppingToken);
            scans.Requeue(job);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task RenewLeasesAsync(ScanOptions settings, CancellationToken stoppingToken)
    {
        var interval = settings.LeaseTimeout / 3;
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(interval, time, stoppingToken);
            foreach (var id in scans.Held.ToList())
            {
                try
                {
                    var now = time.GetUtcNow();
                    if (!await store.TryTakeLeaseAsync(id, scans.InstanceId, now, now - settings.LeaseTimeout, stoppingToken))
                    {
                        scans.Release(id);
                        if (_running.TryGetValue(id, out var running))
                        {
                            await running.CancelAsync();
                        }
                    }
                }
                catch (DbException e)
                {
                    logger.LogWarning("Renewing the lease of scan {ScanId} failed, trying again: {Reason}", id, e.Message);
                }
            }
        }
    }

    private async Task SweepAsync(ScanOptions settings, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var now = time.GetUtcNow();
                foreach (var scan in await store.FindAbandonedAsync(now - settings.LeaseTimeout, 16, stoppingToken))
                {
                    if (!scans.Held.Contains(scan.Id) && await store.TryTakeLeaseAsync(scan.Id, scans.InstanceId, now, now - settings.LeaseTimeout, stoppingToken))
                    {
                        logger.LogWarning("Scan {ScanId} of {Image} had no live runner: running it here", scan.Id, scan.ContainerImage);
                        scans.Enqueue(new ScanJob(scan, null));
                    }
                }
            }
            catch (DbException e)
            {
                logger.LogWarning("Looking for abandoned scans failed, trying again: {Reason}", e.Message);
            }
            await Task.Delay(settings.SweepInterval, time, stoppingToken);
        }
    }

    private async Task<T> RetryAsync<T>(Func<CancellationToken, Task<T>> action, CancellationToken stoppingToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await action(stoppingToken);
            }
            catch (DbException e) when (attempt < 10)
            {
                logger.LogWarning("The scan store is unavailable ({Reason}); trying again", e.Message);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(30, attempt * 2)), time, stoppingToken);
            }
        }
    }
}
