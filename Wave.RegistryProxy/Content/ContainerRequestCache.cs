using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

using Wave.Core.Requests;

namespace Wave.RegistryProxy.Content;

/// <summary>
/// Container requests as the proxy sees them: read from the shared store and kept a few seconds in process, since a
/// single pull asks for one manifest and many blobs under the same token. That short time
/// (<c>Wave:Proxy:RequestCacheTime</c>, 5 s) is also the longest a revoked token is still served by a proxy in another
/// process than the Api that revoked it; in the same process (embedded mode) revocation evicts the entry at once.
/// </summary>
public sealed class ContainerRequestCache(ContainerRequestStore store, ProxyMemoryCache cache, IOptions<RegistryProxyOptions> options, TimeProvider time)
    : ITokenRevocationObserver
{
    public void Revoked(string token) => cache.Cache.Remove("request:" + token);

    public async Task<ContainerRequest?> FindAsync(string token, CancellationToken cancellationToken)
    {
        var key = "request:" + token;
        if (cache.Cache.TryGetValue(key, out ContainerRequest? request) && request!.ExpiresAt > time.GetUtcNow())
        {
            return request;
        }
        request = await store.FindAsync(token, cancellationToken);
        if (request is not null)
        {
            var until = time.GetUtcNow() + options.Value.RequestCacheTime;
            cache.Cache.Set(key, request, new MemoryCacheEntryOptions
            {
                AbsoluteExpiration = until < request.ExpiresAt ? until : request.ExpiresAt,
                Size = 1024,
            });
        }
        return request;
    }
}
