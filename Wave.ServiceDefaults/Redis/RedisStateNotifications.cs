using System.Collections.Concurrent;
using System.Text;

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

using Wave.Core.State;

namespace Wave.ServiceDefaults.Redis;

/// <summary>
/// <see cref="IStateNotifications"/> on Redis pub/sub: PUBLISH through the shared <see cref="RedisConnection"/>, and
/// one <see cref="RedisSubscriber"/> (a connection of its own, resubscribing after any loss) per subscription.
/// Channels carry the key prefix, like keys, because pub/sub channels are shared by every database of a server.
/// </summary>
public sealed class RedisStateNotifications(RedisConnection connection, string channelPrefix = RedisKeyValueStore.DefaultKeyPrefix,
    ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null) : IStateNotifications, IAsyncDisposable, IDisposable
{
    private readonly ConcurrentDictionary<Subscription, byte> _subscriptions = new();
    private int _disposed;

    public string ChannelPrefix { get; } = channelPrefix;

    /// <summary>How often each subscription checks its connection with a PING.</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(1);

    public Task PublishAsync(string channel, string message, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        ArgumentNullException.ThrowIfNull(message);
        return connection.PublishAsync(ChannelPrefix + channel, Encoding.UTF8.GetBytes(message), cancellationToken);
    }

    public IStateSubscription Subscribe(string channel, Action<string> onMessage)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        ArgumentNullException.ThrowIfNull(onMessage);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var subscriber = new RedisSubscriber(connection.Options, [ChannelPrefix + channel], message => onMessage(message.Text),
            loggerFactory?.CreateLogger<RedisSubscriber>() ?? NullLogger<RedisSubscriber>.Instance, timeProvider)
        {
            PingInterval = PingInterval,
        };
        var subscription = new Subscription(this, subscriber);
        _subscriptions[subscription] = 0;
        subscriber.Start();
        return subscription;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await Task.WhenAll(_subscriptions.Keys.Select(subscription => subscription.DisposeAsync().AsTask()));
    }

    /// <summary>For a container disposed synchronously: the subscribers' loops end without needing the caller's context.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private sealed class Subscription(RedisStateNotifications owner, RedisSubscriber subscriber) : IStateSubscription
    {
        public long Epoch => subscriber.Epoch;

        public Task<long> WaitUntilListeningAsync(CancellationToken cancellationToken = default) => subscriber.WaitUntilSubscribedAsync(cancellationToken);

        public async ValueTask DisposeAsync()
        {
            owner._subscriptions.TryRemove(this, out _);
            await subscriber.DisposeAsync();
        }
    }
}
