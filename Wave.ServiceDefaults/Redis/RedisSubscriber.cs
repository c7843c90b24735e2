using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

using Wave.Core.State;

namespace Wave.ServiceDefaults.Redis;

/// <summary>A message received on a subscribed channel.</summary>
public sealed record RedisChannelMessage(string Channel, byte[] Payload)
{
    public string Text => Encoding.UTF8.GetString(Payload);
}

/// <summary>
/// SUBSCRIBE to fixed channels on a connection of its own (a subscribed connection can run nothing but
/// (UN)SUBSCRIBE and PING, so it cannot share <see cref="RedisConnection"/>'s pipeline). Once started it stays
/// subscribed: when the connection drops or the server restarts it connects and subscribes again, with the same
/// growing backoff as <see cref="RedisConnection"/>, until disposed. A PING every <see cref="PingInterval"/> finds
/// a peer that went silent (frozen server, dead network): no reply within the command timeout closes the
/// connection. Each message is handed to the callback on the reading loop, in the order published, one at a time.
/// <para>
/// Redis does not keep messages for a subscriber that is not connected: whatever is published between a loss and
/// the next subscription is missed. <see cref="Epoch"/> says when that may have happened: it is 0 while not
/// subscribed, and a new number for every subscription, so a cache kept up to date by the messages can tell that
/// what it holds from an earlier subscription may be stale. A lost subscription is logged as a warning.
/// </para>
/// </summary>
public sealed partial class RedisSubscriber : IAsyncDisposable
{
    private static readonly byte[] PingCommand = Resp.EncodeCommand(["PING"]);

    private readonly RedisConnectionOptions _options;
    private readonly string[] _channels;
    private readonly Action<RedisChannelMessage> _onMessage;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private TaskCompletionSource<long> _subscribed = NewWaiter();
    private long _epoch;
    private long _subscriptions;
    private Link? _link;
    private Task? _loop;
    private int _started;
    private int _disposed;

    public RedisSubscriber(RedisConnectionOptions options, IReadOnlyList<string> channels, Action<RedisChannelMessage> onMessage,
        ILogger<RedisSubscriber>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(onMessage);
        if (channels.Count == 0 || channels.Any(string.IsNullOrEmpty))
        {
            throw new ArgumentException("a subscriber needs at least one channel, none of them empty", nameof(channels));
        }
        _options = options;
        _channels = [.. channels];
        _onMessage = onMessage;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>How often the connection is checked with a PING; the reply may take the options' command timeout.</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(1);

    public IReadOnlyList<string> Channels => _channels;

    /// <summary>
    /// 0 while not subscribed (connecting, or the connection was lost: messages published now are missed);
    /// otherwise the number of the current subscription (1, then 2 after the first resubscription, ...).
    /// </summary>
    public long Epoch => Volatile.Read(ref _epoch);

    public bool IsSubscribed => Epoch != 0;

    /// <summary>Starts connecting and subscribing in the background; a second call does nothing.</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _loop = Task.Run(() => RunAsync(_stopping.Token));
        }
    }

    /// <summary>Completes with the epoch once subscribed (at once when subscribed now).</summary>
    public Task<long> WaitUntilSubscribedAsync(CancellationToken cancellationToken = default)
    {
        Task<long> waiter;
        lock (_gate)
        {
            waiter = _subscribed.Task;
        }
        return waiter.WaitAsync(cancellationToken);
    }

    private static TaskCompletionSource<long> NewWaiter() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task RunAsync(CancellationToken stopping)
    {
        var backoff = RedisConnectionOptions.FirstBackoff;
        var outageLogged = false;
        while (!stopping.IsCancellationRequested)
        {
            Link? link = null;
            string reason;
            try
            {
                link = await ConnectAndSubscribeAsync(stopping);
                backoff = RedisConnectionOptions.FirstBackoff;
                outageLogged = false;
                Subscribed(link);
                await ListenAsync(link, stopping);
                reason = "the connection closed";
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                link?.Close("the subscriber was disposed");
                break;
            }
            catch (OperationCanceledException)
            {
                reason = link?.CloseReason ?? $"no subscription within {_options.ConnectTimeout.TotalMilliseconds:0} ms";
            }
            catch (Exception e)
            {
                reason = link?.CloseReason ?? e.Message;
            }
            link?.Close(reason);
            if (Unsubscribed())
            {
                LogSubscriptionLost(_logger, string.Join(", ", _channels), _options.Endpoint, reason);
                outageLogged = true;
            }
            else if (!outageLogged)
            {
                LogCannotSubscribe(_logger, string.Join(", ", _channels), _options.Endpoint, reason);
                outageLogged = true;
            }
            else
            {
                LogStillCannotSubscribe(_logger, string.Join(", ", _channels), _options.Endpoint, reason);
            }
            try
            {
                await Task.Delay(backoff, _time, stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            backoff = RedisConnectionOptions.NextBackoff(backoff);
        }
        Unsubscribed();
    }

    private async Task<Link> ConnectAndSubscribeAsync(CancellationToken stopping)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        timeout.CancelAfter(_options.ConnectTimeout);
        var (socket, stream) = await RedisSession.ConnectAsync(_options, timeout.Token);
        var link = new Link(socket, stream, _time);
        Volatile.Write(ref _link, link);
        try
        {
            if (_options.AuthCommand() is { } auth)
            {
                await link.WriteAsync(auth, timeout.Token);
                var reply = await link.ReadAsync(timeout.Token);
                if (reply.Kind == RedisReplyKind.Error)
                {
                    // The server's words (WRONGPASS, ...) never contain the password.
                    throw new StateUnavailableException($"AUTH was refused: {reply.AsString()}");
                }
            }
            await link.WriteAsync(Resp.EncodeCommand(["SUBSCRIBE", .. _channels]), timeout.Token);
            for (var confirmed = 0; confirmed < _channels.Length; confirmed++)
            {
                var reply = await link.ReadAsync(timeout.Token);
                if (reply.Kind == RedisReplyKind.Error)
                {
                    throw new StateUnavailableException($"SUBSCRIBE was refused: {reply.AsString()}");
                }
                if (reply.Kind != RedisReplyKind.Array || reply.AsArray() is not [{ } kind, _, _] || kind.AsString() != "subscribe")
                {
                    throw new RedisProtocolException($"SUBSCRIBE was answered with {reply}");
                }
            }
            return link;
        }
        catch (Exception e)
        {
            link.Close(e.Message);
            throw;
        }
    }

    private async Task ListenAsync(Link link, CancellationToken stopping)
    {
        using var listening = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var keepAlive = KeepAliveAsync(link, listening.Token);
        try
        {
            while (true)
            {
                Dispatch(await link.ReadAsync(stopping));
            }
        }
        finally
        {
            await listening.CancelAsync();
            await keepAlive;
        }
    }

    private void Dispatch(RedisReply reply)
    {
        if (reply.Kind == RedisReplyKind.Error)
        {
            throw new StateUnavailableException($"the server sent an error to a subscriber: {reply.AsString()}");
        }
        if (reply.Kind != RedisReplyKind.Array || reply.AsArray() is not [{ } kind, ..] elements)
        {
            throw new RedisProtocolException($"a subscriber received {reply}");
        }
        // ["message", channel, payload]; ["pong", ""] answers the keep-alive PING and needs nothing more.
        if (kind.AsString() == "message" && elements is [_, { } channel, { } payload])
        {
            var message = new RedisChannelMessage(channel.AsString() ?? "", payload.AsBytes() ?? []);
            try
            {
                _onMessage(message);
            }
            catch (Exception e)
            {
                LogHandlerFailed(_logger, message.Channel, e.GetType().Name, e.Message);
            }
        }
    }

    private async Task KeepAliveAsync(Link link, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(PingInterval, _time, cancellationToken);
                if (_time.GetElapsedTime(link.LastReceived) > PingInterval + _options.CommandTimeout)
                {
                    link.Close($"no reply to PING within {_options.CommandTimeout.TotalMilliseconds:0} ms");
                    return;
                }
                await link.WriteAsync(PingCommand, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            link.Close($"writing PING failed: {e.Message}");
        }
    }

    private void Subscribed(Link link)
    {
        var epoch = Interlocked.Increment(ref _subscriptions);
        lock (_gate)
        {
            Volatile.Write(ref _epoch, epoch);
            _subscribed.TrySetResult(epoch);
        }
        if (link.IsClosed)
        {
            return; // disposed meanwhile: the listening loop ends at once
        }
        LogSubscribed(_logger, string.Join(", ", _channels), _options.Endpoint, epoch);
    }

    /// <summary>Marks the subscription down; true when it was up.</summary>
    private bool Unsubscribed()
    {
        lock (_gate)
        {
            // Under the lock with the waiter: whoever sees epoch 0 gets a waiter for the next subscription.
            var was = Interlocked.Exchange(ref _epoch, 0);
            if (_subscribed.Task.IsCompleted)
            {
                _subscribed = NewWaiter();
            }
            return was != 0;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stopping.CancelAsync();
        Volatile.Read(ref _link)?.Close("the subscriber was disposed");
        if (_loop is { } loop)
        {
            await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        Unsubscribed();
        _stopping.Dispose();
    }

    public override string ToString() => $"RedisSubscriber({_options.Endpoint}: {string.Join(", ", _channels)})";

    /// <summary>One connection in subscribed mode: a reader for the pushes, writes for PING, closed once.</summary>
    private sealed class Link(Socket socket, Stream stream, TimeProvider time)
    {
        private readonly PipeReader _reader = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        private readonly SemaphoreSlim _writeGate = new(1, 1);
        private long _lastReceived = time.GetTimestamp();
        private int _closed;
        private string? _closeReason;

        public long LastReceived => Volatile.Read(ref _lastReceived);

        public bool IsClosed => Volatile.Read(ref _closed) != 0;

        public string? CloseReason => Volatile.Read(ref _closeReason);

        public async Task WriteAsync(byte[] command, CancellationToken cancellationToken)
        {
            await _writeGate.WaitAsync(cancellationToken);
            try
            {
                await stream.WriteAsync(command, cancellationToken);
                await stream.FlushAsync(cancellationToken);
            }
            finally
            {
                _writeGate.Release();
            }
        }

        public async Task<RedisReply> ReadAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                var result = await _reader.ReadAsync(cancellationToken);
                var buffer = result.Buffer;
                var reader = new SequenceReader<byte>(buffer);
                if (Resp.TryReadReply(ref reader, out var reply))
                {
                    _reader.AdvanceTo(reader.Position);
                    Volatile.Write(ref _lastReceived, time.GetTimestamp());
                    return reply;
                }
                _reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    throw new IOException("the server closed the connection");
                }
            }
        }

        public void Close(string reason)
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0)
            {
                return;
            }
            Volatile.Write(ref _closeReason, reason);
            try
            {
                stream.Dispose();
                socket.Dispose();
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Subscribed to {Channels} on Redis at {Endpoint} (subscription {Epoch})")]
    private static partial void LogSubscribed(ILogger logger, string channels, string endpoint, long epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost the subscription to {Channels} on Redis at {Endpoint}: {Reason}; messages published until it is back are missed; subscribing again")]
    private static partial void LogSubscriptionLost(ILogger logger, string channels, string endpoint, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot subscribe to {Channels} on Redis at {Endpoint}: {Reason}; retrying")]
    private static partial void LogCannotSubscribe(ILogger logger, string channels, string endpoint, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Still cannot subscribe to {Channels} on Redis at {Endpoint}: {Reason}")]
    private static partial void LogStillCannotSubscribe(ILogger logger, string channels, string endpoint, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling a message on {Channel} failed: {ExceptionType}: {ExceptionMessage}")]
    private static partial void LogHandlerFailed(ILogger logger, string channel, string exceptionType, string exceptionMessage);
}
