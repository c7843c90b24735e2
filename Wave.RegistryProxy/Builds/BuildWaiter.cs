using System.Collections.Concurrent;
using System.Data.Common;

using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

using Wave.Core.Builds;
using Wave.Core.Persistence;
using Wave.Core.Registry;
using Wave.Core.Requests;
using Wave.RegistryProxy.Content;
using Wave.RegistryProxy.Errors;

namespace Wave.RegistryProxy.Builds;

/// <summary>
/// Holds the pulls of an image whose build has not completed yet. However many clients pull, each build is watched by
/// one loop in this process that reads its record with a pause that grows with the wait (a fifth of it, up to <see cref="RegistryProxyOptions.BuildPollInterval"/>);
/// every pull waits on that loop. A completed record never changes again, so it is then kept in memory.
/// </summary>
public sealed class BuildWaiter(IBuildStore store, RegistryClient registry, ProxyMemoryCache cache, IOptions<RegistryProxyOptions> options, TimeProvider time, ILogger<BuildWaiter> logger)
{
    private const int LogTailCharacters = 1500;
    private static readonly TimeSpan MinPause = TimeSpan.FromMilliseconds(100);

    private readonly ConcurrentDictionary<string, Lazy<Task<BuildRecord>>> _watches = new(StringComparer.Ordinal);

    /// <summary>
    /// The request with the digest its build pushed, once the build succeeded. A failed build is an OCI error with the
    /// reason and the end of its log; a build still running after <see cref="RegistryProxyOptions.BuildWaitTimeout"/> a 504.
    /// </summary>
    public async Task<ContainerRequest> ResolveAsync(ContainerRequest request, Wave.Core.Names.ImageReference source, CancellationToken cancellationToken)
    {
        if (request.SourceDigest is not null || request.BuildId is null)
        {
            return request;
        }
        var record = await WaitAsync(request.BuildId, cancellationToken);
        if (record.Succeeded != true)
        {
            throw await FailureAsync(record, cancellationToken);
        }
        var digest = record.ImageDigest;
        if (digest is null)
        {
            // A backend that could not tell what it pushed: the tag it pushed to says.
            digest = (await registry.HeadManifestAsync(source.Registry, source.Repository, source.Reference, cancellationToken)).Digest;
        }
        return request with { SourceDigest = digest };
    }

    private async Task<BuildRecord> WaitAsync(string buildId, CancellationToken cancellationToken)
    {
        var key = "build:" + buildId;
        if (cache.Cache.TryGetValue(key, out BuildRecord? completed))
        {
            return completed!;
        }
        var watch = _watches.GetOrAdd(buildId, id => new Lazy<Task<BuildRecord>>(() => WatchAsync(id)));
        try
        {
            var record = await watch.Value.WaitAsync(cancellationToken);
            cache.Cache.Set(key, record, new MemoryCacheEntryOptions { Size = 2048, SlidingExpiration = TimeSpan.FromHours(1) });
            return record;
        }
        finally
        {
            if (watch.Value.IsCompleted)
            {
                _watches.TryRemove(new KeyValuePair<string, Lazy<Task<BuildRecord>>>(buildId, watch));
            }
        }
    }

    // Not tied to one pull's cancellation: other pulls may be waiting on the same build.
    private async Task<BuildRecord> WatchAsync(string buildId)
    {
        var settings = options.Value;
        var started = time.GetTimestamp();
        TimeSpan pause;
        var logged = false;
        while (true)
        {
            BuildRecord? record;
            try
            {
                record = await store.FindAsync(buildId, CancellationToken.None);
            }
            catch (DbException e)
            {
                throw new OciErrorException(StatusCodes.Status503ServiceUnavailable, OciErrorCodes.Unavailable,
                    $"Wave's build store is unavailable, retry shortly: {e.Message}");
            }
            if (record is null)
            {
                throw new OciErrorException(StatusCodes.Status404NotFound, OciErrorCodes.ManifestUnknown,
                    $"build {buildId} is unknown: its record is missing from Wave's build store", new { buildId });
            }
            if (record.Status == BuildStatus.Completed)
            {
                return record;
            }
            var waited = time.GetElapsedTime(started);
            if (waited >= settings.BuildWaitTimeout)
            {
                throw new OciErrorException(StatusCodes.Status504GatewayTimeout, OciErrorCodes.Unavailable,
                    $"build {buildId} is still {record.Status.ToWire()} after {waited.TotalSeconds:0} s; pull again later " +
                    $"or follow it at /v1alpha1/builds/{buildId}/status", new { buildId, status = record.Status.ToWire() });
            }
            if (!logged)
            {
                logger.LogInformation("Pull of build {BuildId} waits for it to complete ({Status})", buildId, record.Status.ToWire());
                logged = true;
            }
            // The pause grows with the wait (a fifth of it, from 100 ms up to BuildPollInterval): a pull is answered at
            // most ~20 % after its build completed, where doubling pauses made a 2 s build's pulls wait 3 s or more.
            pause = TimeSpan.FromTicks(Math.Clamp(waited.Ticks / 5, MinPause.Ticks, Math.Max(MinPause.Ticks, settings.BuildPollInterval.Ticks)));
            await Task.Delay(pause, time);
        }
    }

    private async Task<OciErrorException> FailureAsync(BuildRecord record, CancellationToken cancellationToken)
    {
        var key = "build-failure:" + record.BuildId;
        if (!cache.Cache.TryGetValue(key, out string? tail))
        {
            var log = await store.ReadLogAsync(record.BuildId, 0, cancellationToken);
            tail = LogTail(log?.Text ?? "");
            cache.Cache.Set(key, tail, new MemoryCacheEntryOptions { Size = tail.Length * 2 + 64, SlidingExpiration = TimeSpan.FromHours(1) });
        }
        var reason = record.FailureReason ?? (record.ExitCode is { } code ? $"exit code {code}" : "failed");
        var message = $"build {record.BuildId} of this image failed: {reason}";
        if (tail!.Length > 0)
        {
            message += $"; end of its log:\n{tail}";
        }
        return new OciErrorException(StatusCodes.Status404NotFound, OciErrorCodes.ManifestUnknown, message,
            new { buildId = record.BuildId, reason, logs = $"/v1alpha1/builds/{record.BuildId}/logs" });
    }

    /// <summary>The last lines of a log, at most <see cref="LogTailCharacters"/> characters, starting at a line.</summary>
    internal static string LogTail(string log)
    {
        var text = log.TrimEnd();
        if (text.Length <= LogTailCharacters)
        {
            return text;
        }
        var tail = text[^LogTailCharacters..];
        var newline = tail.IndexOf('\n');
        return newline >= 0 && newline < tail.Length - 1 ? tail[(newline + 1)..] : tail;
    }
}
