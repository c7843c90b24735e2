using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

using StackExchange.Redis;

using Wave.Core.State;

namespace Wave.ServiceDefaults.Redis;

/// <summary>
/// <see cref="IStateNotifications"/> on Redis pub/sub through the process's one <see cref="IConnectionMultiplexer"/>
/// (its subscription connection carries every subscription). Channels carry the key prefix, like keys, because
/// pub/sub channels are shared by every database of a server.
/// <para>
/// What StackExchange.Redis does not give, and a cache kept up to date by the messages needs, is a proof that it is
/// listening <em>now</em>: the client resubscribes by itself after a reconnection, but says neither when that
/// subscription is in place nor whether the server refused it (an ACL without the channel). So each subscription here
/// counts as listening (<see cref="IStateSubscription.Epoch"/> not 0) only once a probe message it published on its
/// own channel came back to it, and stops counting the moment the subscription connection fails (the multiplexer's
/// ConnectionFailed event) or a PING on that connection is not answered within <see cref="PingTimeout"/> (a frozen
/// server or a silent network, which the socket alone notices much later). It then subscribes again itself until a
/// probe comes back, under a new epoch. Probes are ignored by every subscriber, in every process.
/// </para>
/// </summary>
public sealed partial class RedisStateNotifications(IConnectionMultiplexer redis, string channelPrefix = RedisKeyValueStore.DefaultKeyPrefix,
    ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null) : IStateNotifications, IAsyncDisposable, IDisposable
{
    /// <summary>Starts every probe message; a revocation (a token) or any other Wave message never does.</summary>
    internal const string ProbePrefix = "\u0001wave-probe:";

    private readonly IConnectionMultiplexer _redis = redis;
    private readonly ILogger _logger = loggerFactory?.CreateLogger<RedisStateNotifications>() ?? (ILogger)NullLogger.Instance;
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly HashSet<Subscription> _subscriptions = [];
    private readonly Lock _gate = new();
    private bool _disposed;

    public string ChannelPrefix { get; } = channelPrefix;

    /// <summary>How often a listening subscription checks its connection with a PING.</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a PING, a SUBSCRIBE or a probe may take before the subscription counts as lost.</summary>
    public TimeSpan PingTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public async Task PublishAsync(string channel, string message, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        ArgumentNullException.ThrowIfNull(message);
        try
        {
            await _redis.GetSubscriber().PublishAsync(RedisChannel.Literal(ChannelPrefix + channel), message);
        }
        catch (Exception e) when (RedisFailures.IsUnavailable(e))
        {
            throw RedisFailures.Unavailable(_redis, e);
        }
    }

    public IStateSubscription Subscribe(string channel, Action<string> onMessage)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        ArgumentNullException.ThrowIfNull(onMessage);
        var subscription = new Subscription(this, RedisChannel.Literal(ChannelPrefix + channel), onMessage);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _subscriptions.Add(subscription);
        }
        subscription.Start();
        return subscription;
    }

    public async ValueTask DisposeAsync()
    {
        Subscription[] subscriptions;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            subscriptions = [.. _subscriptions];
        }
        await Task.WhenAll(subscriptions.Select(subscription => subscription.DisposeAsync().AsTask()));
    }

    /// <summary>For a container disposed synchronously: the subscriptions' loops end without needing the caller's context.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private sealed class Subscription(RedisStateNotifications owner, RedisChannel channel, Action<string> onMessage) : IStateSubscription
    {
        private readonly ISubscriber _subscriber = owner._redis.GetSubscriber();
        private readonly CancellationTokenSource _stopping = new();
        private readonly Lock _gate = new();
        private TaskCompletionSource<long> _listening = NewWaiter();
        private TaskCompletionSource _wake = NewSignal();
        private TaskCompletionSource? _probe;
        private string? _probeMessage;
        private ChannelMessageQueue? _queue;
        private long _epoch;
        private long _subscriptions;
        private long _losses;
        private bool _lostLogged;
        private Task? _loop;
        private int _disposed;

        public long Epoch => Volatile.Read(ref _epoch);

        public Task<long> WaitUntilListeningAsync(CancellationToken cancellationToken = default)
        {
            lock (_gate)
            {
                return _epoch != 0 ? Task.FromResult(_epoch) : _listening.Task.WaitAsync(cancellationToken);
            }
        }

        public void Start()
        {
            owner._redis.ConnectionFailed += OnConnectionFailed;
            owner._redis.ConnectionRestored += OnConnectionRestored;
            _loop = Task.Run(() => KeepListeningAsync(_stopping.Token));
        }

        private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
        {
            if (e.ConnectionType == ConnectionType.Subscription)
            {
                Lost($"the connection failed ({e.FailureType})");
            }
        }

        private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
        {
            if (e.ConnectionType == ConnectionType.Subscription)
            {
                Wake();
            }
        }

        private void Wake()
        {
            lock (_gate)
            {
                _wake.TrySetResult();
            }
        }

        /// <summary>Stops counting as listening: what is published from now on may be missed.</summary>
        private void Lost(string reason)
        {
            lock (_gate)
            {
                _losses++;
                if (_epoch == 0)
                {
                    _wake.TrySetResult();
                    return;
                }
                _epoch = 0;
                _listening = NewWaiter();
                _wake.TrySetResult();
                _lostLogged = true;
            }
            LogSubscriptionLost(owner._logger, channel.ToString(), RedisFailures.Endpoints(owner._redis), reason);
        }

        private async Task KeepListeningAsync(CancellationToken stopping)
        {
            while (!stopping.IsCancellationRequested)
            {
                Task wake;
                lock (_gate)
                {
                    wake = _wake.Task;
                }
                try
                {
                    if (Epoch == 0)
                    {
                        await SubscribeAndProbeAsync(stopping);
                    }
                    else
                    {
                        await _subscriber.PingAsync().WaitAsync(owner.PingTimeout, owner._time, stopping);
                    }
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e)
                {
                    if (Epoch != 0)
                    {
                        Lost(e is TimeoutException ? $"no answer to PING within {owner.PingTimeout.TotalSeconds:0} s" : e.GetType().Name);
                    }
                    else
                    {
                        LogSubscribeFailed(owner._logger, channel.ToString(), e.GetType().Name, e.Message);
                    }
                }
                try
                {
                    await wake.WaitAsync(owner.PingInterval, owner._time, stopping);
                    lock (_gate)
                    {
                        if (_wake.Task.IsCompleted)
                        {
                            _wake = NewSignal();
                        }
                    }
                }
                catch (TimeoutException)
                {
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    return;
                }
            }
        }

        /// <summary>Subscribes afresh and counts as listening once a probe came back through that subscription.</summary>
        private async Task SubscribeAndProbeAsync(CancellationToken stopping)
        {
            long lossesBefore;
            lock (_gate)
            {
                lossesBefore = _losses;
            }
            if (Interlocked.Exchange(ref _queue, null) is { } stale)
            {
                try
                {
                    await stale.UnsubscribeAsync();
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    // It is removed from this client either way; the server forgets it with the dead connection.
                }
            }
            var queue = await _subscriber.SubscribeAsync(channel).WaitAsync(owner.PingTimeout, owner._time, stopping);
            Volatile.Write(ref _queue, queue);
            queue.OnMessage(message => Deliver(queue, message.Message));

            var probe = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var probeMessage = ProbePrefix + Guid.NewGuid().ToString("N");
            lock (_gate)
            {
                _probe = probe;
                _probeMessage = probeMessage;
            }
            await _subscriber.PublishAsync(channel, probeMessage).WaitAsync(owner.PingTimeout, owner._time, stopping);
            await probe.Task.WaitAsync(owner.PingTimeout, owner._time, stopping);

            long epoch;
            bool again;
            lock (_gate)
            {
                if (_losses != lossesBefore || _disposed != 0)
                {
                    return; // lost again while probing: the next round starts over
                }
                epoch = ++_subscriptions;
                _epoch = epoch;
                _listening.TrySetResult(epoch);
                again = _lostLogged;
                _lostLogged = false;
            }
            if (again)
            {
                LogSubscribedAgain(owner._logger, channel.ToString(), epoch);
            }
        }

        private void Deliver(ChannelMessageQueue from, RedisValue value)
        {
            if (!ReferenceEquals(from, Volatile.Read(ref _queue)) || Volatile.Read(ref _disposed) != 0)
            {
                return; // a subscription replaced by a newer one: its messages come through the newer one too
            }
            var message = (string?)value ?? "";
            if (message.StartsWith(ProbePrefix, StringComparison.Ordinal))
            {
                lock (_gate)
                {
                    if (message == _probeMessage)
                    {
                        _probe?.TrySetResult();
                    }
                }
                return;
            }
            try
            {
                onMessage(message);
            }
            catch (Exception e)
            {
                LogHandlerFailed(owner._logger, channel.ToString(), e.GetType().Name, e.Message);
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }
            owner._redis.ConnectionFailed -= OnConnectionFailed;
            owner._redis.ConnectionRestored -= OnConnectionRestored;
            lock (_gate)
            {
                _epoch = 0;
            }
            await _stopping.CancelAsync();
            if (_loop is { } loop)
            {
                await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            if (Interlocked.Exchange(ref _queue, null) is { } queue)
            {
                try
                {
                    await queue.UnsubscribeAsync().WaitAsync(owner.PingTimeout);
                }
                catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
                {
                }
            }
            lock (owner._gate)
            {
                owner._subscriptions.Remove(this);
            }
            _stopping.Dispose();
        }

        private static TaskCompletionSource<long> NewWaiter() => new(TaskCreationOptions.RunContinuationsAsynchronously);

        private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost the subscription to {Channel} at {Endpoint}: {Reason}; subscribing again")]
    private static partial void LogSubscriptionLost(ILogger logger, string channel, string endpoint, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Subscribed to {Channel} again (subscription {Epoch})")]
    private static partial void LogSubscribedAgain(ILogger logger, string channel, long epoch);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Subscribing to {Channel} failed: {ExceptionType}: {ExceptionMessage}; trying again")]
    private static partial void LogSubscribeFailed(ILogger logger, string channel, string exceptionType, string exceptionMessage);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling a state notification on {Channel} failed: {ExceptionType}: {ExceptionMessage}")]
    private static partial void LogHandlerFailed(ILogger logger, string channel, string exceptionType, string exceptionMessage);
}
