using Microsoft.Extensions.Caching.Memory;

using Wave.Core.Digests;
using Wave.Core.State;

namespace Wave.RegistryProxy.Content;

/// <summary>
/// The manifests and configs Wave computed for a token, by digest, for the token's lifetime: in the shared store
/// (so that every proxy instance serves the same bytes) with an in-process cache in front (so that a cached pull
/// costs no network round trip). Content is keyed by token as well as digest: a token only reaches its own content.
/// </summary>
public sealed class TokenContentStore(IKeyValueStore store, ProxyMemoryCache cache, TimeProvider time)
{
    private readonly IMemoryCache memory = cache.Cache;

    private static string ContentKey(string token, string digest) => $"content:{token}:{digest}";
    private static string RootKey(string token) => $"root:{token}";

    public async Task<ServedContent?> FindAsync(string token, string digest, CancellationToken cancellationToken)
    {
        var key = ContentKey(token, digest);
        if (memory.TryGetValue(key, out ServedContent? cached))
        {
            return cached;
        }
        var encoded = await store.GetAsync(key, cancellationToken);
        if (encoded is null)
        {
            return null;
        }
        var content = ServedContent.Decode(encoded, digest);
        if (Digest.Sha256(content.Bytes) != digest)
        {
            // Never serve bytes that do not match the name they are served under.
            await store.DeleteAsync(key, cancellationToken);
            return null;
        }
        Remember(key, content, null);
        return content;
    }

    /// <summary>The digest of the manifest (or index) the token's tag resolves to, once computed.</summary>
    public async Task<string?> FindRootAsync(string token, CancellationToken cancellationToken)
    {
        if (memory.TryGetValue(RootKey(token), out string? root))
        {
            return root;
        }
        var bytes = await store.GetAsync(RootKey(token), cancellationToken);
        return bytes is null ? null : System.Text.Encoding.ASCII.GetString(bytes);
    }

    /// <summary>Saves every content item first and the root last, so that a root found always has its content.</summary>
    public async Task SaveAsync(string token, DateTimeOffset expiresAt, IReadOnlyCollection<ServedContent> contents, string rootDigest, CancellationToken cancellationToken)
    {
        var ttl = expiresAt - time.GetUtcNow();
        if (ttl <= TimeSpan.Zero)
        {
            return;
        }
        await Task.WhenAll(contents.Select(c => store.SetAsync(ContentKey(token, c.Digest), c.Encode(), ttl, cancellationToken)));
        await store.SetAsync(RootKey(token), System.Text.Encoding.ASCII.GetBytes(rootDigest), ttl, cancellationToken);
        foreach (var content in contents)
        {
            Remember(ContentKey(token, content.Digest), content, expiresAt);
        }
        memory.Set(RootKey(token), rootDigest, new MemoryCacheEntryOptions { AbsoluteExpiration = expiresAt, Size = 1 });
    }

    private void Remember(string key, ServedContent content, DateTimeOffset? expiresAt)
    {
        memory.Set(key, content, new MemoryCacheEntryOptions
        {
            AbsoluteExpiration = expiresAt,
            // Without a known expiry (read back from the shared store), keep it briefly: the store keeps the TTL.
            AbsoluteExpirationRelativeToNow = expiresAt is null ? TimeSpan.FromMinutes(10) : null,
            Size = content.Bytes.Length,
        });
    }
}
