using System.Collections.Immutable;

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Wave.Core.State;

/// <summary>
/// <see cref="IStateNotifications"/> within one process (embedded mode, tests): a publish calls every subscriber of
/// the channel before it returns. A subscription listens from the moment it is made until it is disposed, so its
/// epoch is always 1. A subscriber that throws is logged and does not keep the others from their message.
/// </summary>
public sealed partial class InMemoryStateNotifications(ILogger<InMemoryStateNotifications>? logger = null) : IStateNotifications
{
    private readonly ILogger _logger = logger ?? (ILogger)NullLogger.Instance;
    private ImmutableDictionary<string, ImmutableArray<Subscription>> _channels = ImmutableDictionary.Create<string, ImmutableArray<Subscription>>(StringComparer.Ordinal);

    public Task PublishAsync(string channel, string message, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        ArgumentNullException.ThrowIfNull(message);
        if (Volatile.Read(ref _channels).TryGetValue(channel, out var subscriptions))
        {
            foreach (var subscription in subscriptions)
            {
                subscription.Deliver(message);
            }
        }
        return Task.CompletedTask;
    }

    public IStateSubscription Subscribe(string channel, Action<string> onMessage)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        ArgumentNullException.ThrowIfNull(onMessage);
        var subscription = new Subscription(this, channel, onMessage);
        ImmutableInterlocked.AddOrUpdate(ref _channels, channel, [subscription], (_, existing) => existing.Add(subscription));
        return subscription;
    }

    private void Remove(Subscription subscription) =>
        ImmutableInterlocked.Update(ref _channels, channels =>
            channels.TryGetValue(subscription.Channel, out var existing) ? channels.SetItem(subscription.Channel, existing.Remove(subscription)) : channels);

    private sealed class Subscription(InMemoryStateNotifications owner, string channel, Action<string> onMessage) : IStateSubscription
    {
        private readonly Lock _order = new();
        private int _disposed;

        public string Channel => channel;

        public long Epoch => Volatile.Read(ref _disposed) == 0 ? 1 : 0;

        public Task<long> WaitUntilListeningAsync(CancellationToken cancellationToken = default) => Task.FromResult(1L);

        public void Deliver(string message)
        {
            // One message at a time per subscription, as the Redis subscriber delivers them.
            lock (_order)
            {
                if (Volatile.Read(ref _disposed) != 0)
                {
                    return;
                }
                try
                {
                    onMessage(message);
                }
                catch (Exception e)
                {
                    LogHandlerFailed(owner._logger, channel, e.GetType().Name, e.Message);
                }
            }
        }

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Remove(this);
            }
            return ValueTask.CompletedTask;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling a state notification on {Channel} failed: {ExceptionType}: {ExceptionMessage}")]
    private static partial void LogHandlerFailed(ILogger logger, string channel, string exceptionType, string exceptionMessage);
}
