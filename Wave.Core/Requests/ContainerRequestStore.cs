using System.Text.Json;

using Wave.Core.State;

namespace Wave.Core.Requests;

/// <summary>
/// Container requests by token, kept until the token expires (Redis in distributed mode, memory in embedded mode).
/// A revocation is also announced on <see cref="RevokedChannel"/>, so that every process caching requests forgets
/// the token at once.
/// </summary>
public sealed class ContainerRequestStore(IKeyValueStore store, IStateNotifications notifications, TimeProvider time)
{
    /// <summary>The <see cref="IStateNotifications"/> channel of revoked tokens (one token per message).</summary>
    public const string RevokedChannel = "revoked-tokens";

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

    /// <summary>
    /// Revocation: forgets the token, then tells every process (<see cref="SubscribeToRevocations"/>); true when it
    /// was there. The announcement is made also when it was not, so that a retry after a failed announcement still
    /// reaches every cache.
    /// </summary>
    public async Task<bool> RevokeAsync(string token, CancellationToken cancellationToken = default)
    {
        if (!ContainerTokens.IsWellFormed(token))
        {
            return false;
        }
        var removed = await store.DeleteAsync(Key(token), cancellationToken);
        await notifications.PublishAsync(RevokedChannel, token, cancellationToken);
        return removed;
    }

    /// <summary>Calls <paramref name="onRevoked"/> with each token revoked by any process from now on, while the subscription listens.</summary>
    public IStateSubscription SubscribeToRevocations(Action<string> onRevoked) =>
        notifications.Subscribe(RevokedChannel, token =>
        {
            if (ContainerTokens.IsWellFormed(token))
            {
                onRevoked(token);
            }
        });

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
