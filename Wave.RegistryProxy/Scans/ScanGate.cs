using System.Collections.Concurrent;
using System.Data.Common;

using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

using Wave.Core.Requests;
using Wave.Core.Scans;
using Wave.RegistryProxy.Content;
using Wave.RegistryProxy.Errors;

namespace Wave.RegistryProxy.Scans;

/// <summary>
/// Holds back the pulls of a container whose request has <c>scanMode: required</c>: a pull waits while the scan runs
/// (one loop per scan in this process, however many pulls wait, bounded by <see cref="RegistryProxyOptions.BuildWaitTimeout"/>),
/// and is refused with 403 DENIED and the scan's reason when the scan found a severity the request's
/// <c>scanLevels</c> do not allow or could not complete, so that <c>docker pull</c> prints why. A completed scan never
/// changes, so it is then kept in memory.
/// </summary>
public sealed class ScanGate(IScanStore store, ProxyMemoryCache cache, IOptions<RegistryProxyOptions> options, TimeProvider time, ILogger<ScanGate> logger)
{
    private static readonly TimeSpan MinPause = TimeSpan.FromMilliseconds(100);
    private readonly ConcurrentDictionary<string, Lazy<Task<ScanRecord>>> _watches = new(StringComparer.Ordinal);

    public async Task CheckAsync(ContainerRequest request, CancellationToken cancellationToken)
    {
        if (request.ScanId is not { } scanId || request.ScanMode != ScanMode.Required.ToWire())
        {
            return;
        }
        var scan = await WaitAsync(scanId, cancellationToken);
        var verdict = ScanPolicy.Evaluate(scan, request.ScanLevels);
        if (verdict.Passed != true)
        {
            throw new OciErrorException(StatusCodes.Status403Forbidden, OciErrorCodes.Denied,
                $"this container is not released: {verdict.Reason}; see /view/scans/{scanId}",
                new { scanId, status = scan.Status, vulnerabilities = scan.Summary, allowed = request.ScanLevels ?? [] });
        }
    }

    private async Task<ScanRecord> WaitAsync(string scanId, CancellationToken cancellationToken)
    {
        var key = "scan:" + scanId;
        if (cache.Cache.TryGetValue(key, out ScanRecord? done))
        {
            return done!;
        }
        var watch = _watches.GetOrAdd(scanId, id => new Lazy<Task<ScanRecord>>(() => WatchAsync(id)));
        try
        {
            var scan = await watch.Value.WaitAsync(cancellationToken);
            cache.Cache.Set(key, scan, new MemoryCacheEntryOptions { Size = 4096, SlidingExpiration = TimeSpan.FromHours(1) });
            return scan;
        }
        finally
        {
            if (watch.Value.IsCompleted)
            {
                _watches.TryRemove(new KeyValuePair<string, Lazy<Task<ScanRecord>>>(scanId, watch));
            }
        }
    }

    // Not tied to one pull's cancellation: other pulls may be waiting on the same scan.
    private async Task<ScanRecord> WatchAsync(string scanId)
    {
        var settings = options.Value;
        var started = time.GetTimestamp();
        var logged = false;
        while (true)
        {
            ScanRecord? scan;
            try
            {
                scan = await store.FindAsync(scanId, CancellationToken.None);
            }
            catch (DbException e)
            {
                throw new OciErrorException(StatusCodes.Status503ServiceUnavailable, OciErrorCodes.Unavailable,
                    $"Wave's scan store is unavailable, retry shortly: {e.Message}");
            }
            if (scan is null)
            {
                throw new OciErrorException(StatusCodes.Status403Forbidden, OciErrorCodes.Denied,
                    $"this container is not released: its security scan {scanId} is missing from Wave's scan store", new { scanId });
            }
            if (scan.Done)
            {
                return scan;
            }
            var waited = time.GetElapsedTime(started);
            if (waited >= settings.BuildWaitTimeout)
            {
                throw new OciErrorException(StatusCodes.Status504GatewayTimeout, OciErrorCodes.Unavailable,
                    $"the security scan {scanId} of this container is still running after {waited.TotalSeconds:0} s; pull again later " +
                    $"or follow it at /v1alpha1/scans/{scanId}", new { scanId, status = scan.Status });
            }
            if (!logged)
            {
                logger.LogInformation("Pull waits for security scan {ScanId}", scanId);
                logged = true;
            }
            var pause = TimeSpan.FromTicks(Math.Clamp(waited.Ticks / 5, MinPause.Ticks, Math.Max(MinPause.Ticks, settings.BuildPollInterval.Ticks)));
            await Task.Delay(pause, time);
        }
    }
}
