using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

using Wave.Core.Requests;
using Wave.Core.State;

namespace Wave.RegistryProxy.Content;

/// <summary>
/// Container requests as the proxy sees them: read from the shared store and kept a few seconds in process
/// (<c>Wave:Proxy:RequestCacheTime</c>, 5 s), since a single pull asks for one manifest and many blobs under the same
/// token. Revocation reaches the cache at once from any process: the Api announces each revoked token
/// (<see cref="ContainerRequestStore.RevokedChannel"/>) and the cache drops it on receipt.
/// <para>
/// An announcement is missed when this process's subscription is down (Redis restarting, a dropped connection), so
/// the cache trusts only what it learnt under its current subscription: while the subscription is down every lookup
/// reads the shared store, and entries cached before a resubscription are never served after it (the subscription's
/// epoch is part of each entry). A lookup that races with a revocation (its read started before the announcement
/// arrived) does not leave the entry behind either: the revocation count is checked again after the entry is stored.
/// </para>
/// </summary>
public sealed class ContainerRequestCache
{
    private readonly ContainerRequestStore _store;
    private readonly ProxyMemoryCache _cache;
    private readonly IOptions<RegistryProxyOptions> _options;
    private readonly TimeProvider _time;
    private readonly IStateSubscription _revocations;
    private long _revoked;

    public ContainerRequestCache(ContainerRequestStore store, ProxyMemoryCache cache, IOptions<RegistryProxyOptions> options, TimeProvider time)
    {
        _store = store;
        _cache = cache;
        _options = options;
        _time = time;
        // Owned by the notifications service, which ends it with the host.
        _revocations = store.SubscribeToRevocations(Revoked);
    }

    private sealed record Entry(ContainerRequest Request, long Epoch);

    /// <summary>Whether revocations are being received now, i.e. whether cached requests may be served.</summary>
    public bool IsListening => _revocations.Epoch != 0;

    /// <summary>The revocation subscription's epoch: 0 while down, a new number after each resubscription.</summary>
    public long SubscriptionEpoch => _revocations.Epoch;

    /// <summary>Completes with the subscription's epoch once revocations are being received.</summary>
    public Task<long> WaitUntilListeningAsync(CancellationToken cancellationToken = default) => _revocations.WaitUntilListeningAsync(cancellationToken);

    private static string Key(string token) => "request:" + token;

    private void Revoked(string token)
    {
        Interlocked.Increment(ref _revoked);
        _cache.Cache.Remove(Key(token));
    }

    public async Task<ContainerRequest?> FindAsync(string token, CancellationToken cancellationToken)
    {
        var key = Key(token);
        var epoch = _revocations.Epoch;
        if (epoch != 0 && _cache.Cache.TryGetValue(key, out Entry? entry) && entry!.Epoch == epoch && entry.Request.ExpiresAt > _time.GetUtcNow())
        {
            return entry.Request;
        }
        var revokedBefore = Interlocked.Read(ref _revoked);
        var request = await _store.FindAsync(token, cancellationToken);
        if (request is not null && epoch != 0)
        {
            var until = _time.GetUtcNow() + _options.Value.RequestCacheTime;
            _cache.Cache.Set(key, new Entry(request, epoch), new MemoryCacheEntryOptions
            {
                AbsoluteExpiration = until < request.ExpiresAt ? until : request.ExpiresAt,
                Size = 1024,
            });
            if (Interlocked.Read(ref _revoked) != revokedBefore)
            {
                // A revocation arrived while the store was read: this one may have been read before it was removed.
                _cache.Cache.Remove(key);
            }
        }
        return request;
    }
}

/// <summary>Makes the request cache (and so its revocation subscription) when the host starts, not at the first pull.</summary>
internal sealed class ContainerRequestCacheStarter(ContainerRequestCache cache) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        GC.KeepAlive(cache);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
