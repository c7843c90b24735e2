namespace Wave.Core.State;

/// <summary>
/// Notifications that some shared state changed, from any process to every process that listens: Redis pub/sub in
/// distributed mode, in-process delivery in embedded mode. They are what lets a process cache shared state and
/// still forget an entry the moment another process changes it. Delivery is at most once: a subscription that is
/// not listening when a message is published never gets it, which is why a subscription tells when it was not
/// (see <see cref="IStateSubscription.Epoch"/>).
/// </summary>
public interface IStateNotifications
{
    /// <summary>Delivers the message to every subscription to the channel that is listening now, in every process.</summary>
    Task PublishAsync(string channel, string message, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts listening to the channel; <paramref name="onMessage"/> runs for each message, one at a time and in the
    /// order published, and must be quick (it holds up the messages behind it). Disposing the subscription ends it.
    /// </summary>
    IStateSubscription Subscribe(string channel, Action<string> onMessage);
}

/// <summary>One listener of a channel of <see cref="IStateNotifications"/>.</summary>
public interface IStateSubscription : IAsyncDisposable
{
    /// <summary>
    /// 0 while the subscription is not listening (not connected yet, or its connection was lost): messages published
    /// meanwhile are missed. Otherwise a number that is new every time listening starts (again), so that what a
    /// cache learnt while the epoch had one value is not trusted once it has another: messages may have been missed
    /// in between.
    /// </summary>
    long Epoch { get; }

    /// <summary>Completes with the epoch once the subscription listens (at once when it does now).</summary>
    Task<long> WaitUntilListeningAsync(CancellationToken cancellationToken = default);
}
