using System.Text.Json;

using Wave.Core.State;

namespace Wave.Core.Requests;

/// <summary>Container requests by token, kept until the token expires (Redis in distributed mode, memory in embedded mode).</summary>
public sealed class ContainerRequestStore(IKeyValueStore store, TimeProvider time)
{
    private static string Key(string token) => $"request:{token}";

    public async Task SaveAsync(ContainerRequest request, CancellationToken cancellationToken = default)
    {
        var ttl = request.ExpiresAt - time.GetUtcNow();
        if (ttl <= TimeSpan.Zero)
        {
            throw new ArgumentException("the request has already expired", nameof(request));
        }
        var bytes = JsonSerializer.SerializeToUtf8Bytes(request);
        if (!await store.SetIfAbsentAsync(Key(request.Token), bytes, ttl, cancellationToken))
        {
            throw new InvalidOperationException("container token collision");
        }
    }

    /// <summary>Forgets the token at once (revocation); true when it was there.</summary>
    public Task<bool> DeleteAsync(string token, CancellationToken cancellationToken = default) =>
        ContainerTokens.IsWellFormed(token) ? store.DeleteAsync(Key(token), cancellationToken) : Task.FromResult(false);

    /// <summary>The request, or null when the token is unknown or expired.</summary>
    public async Task<ContainerRequest?> FindAsync(string token, CancellationToken cancellationToken = default)
    {
        if (!ContainerTokens.IsWellFormed(token))
        {
            return null;
        }
        var bytes = await store.GetAsync(Key(token), cancellationToken);
        if (bytes is null)
        {
            return null;
        }
        var request = JsonSerializer.Deserialize<ContainerRequest>(bytes);
        return request is not null && request.ExpiresAt > time.GetUtcNow() ? request : null;
    }
}
