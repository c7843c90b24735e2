using System.Diagnostics;
using System.Text;

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

using Wave.Core.State;
using Wave.Core.Telemetry;

namespace Wave.ServiceDefaults.Redis;

/// <summary>
/// One multiplexed, pipelined connection to Redis, shared by the whole process and safe to call concurrently.
/// It connects on first use and again after any failure: commands in flight when the connection breaks fail at
/// once with <see cref="StateUnavailableException"/>, and the next command reconnects. While the server stays
/// unreachable, reconnection attempts are spaced by a growing backoff and commands in between fail immediately,
/// so no caller ever waits longer than the connect or command timeout.
/// </summary>
public sealed partial class RedisConnection : IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _connectGate = new(1, 1);
    private RedisSession? _session;
    private TimeSpan _backoff = RedisConnectionOptions.FirstBackoff;
    private long _retryNotBefore;
    private StateUnavailableException? _lastConnectFailure;
    private bool _disposed;

    public RedisConnection(RedisConnectionOptions options, ILogger<RedisConnection>? logger = null, TimeProvider? timeProvider = null)
    {
        Options = options;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
    }

    public RedisConnection(string connectionString, ILogger<RedisConnection>? logger = null)
        : this(RedisConnectionOptions.Parse(connectionString), logger)
    {
    }

    public RedisConnectionOptions Options { get; }

    /// <summary>Connects now; with abortConnect=true in the connection string a failure here is the caller's to handle.</summary>
    public async Task ConnectAsync(CancellationToken cancellationToken = default) => await GetSessionAsync(cancellationToken);

    /// <summary>Runs any command: <c>ExecuteAsync("SET", "k", "v")</c>. An error reply throws <see cref="RedisErrorException"/>.</summary>
    public Task<RedisReply> ExecuteAsync(params object[] arguments) => ExecuteAsync(arguments, CancellationToken.None);

    public async Task<RedisReply> ExecuteAsync(IReadOnlyList<object> arguments, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var name = CommandName(arguments);
        var command = new PendingCommand(name, Resp.EncodeCommand(arguments));
        using var activity = StartCommandActivity(name);
        try
        {
            var session = await GetSessionAsync(cancellationToken);
            var reply = await SendAsync(session, command, cancellationToken);
            return reply.Kind == RedisReplyKind.Error ? throw new RedisErrorException(name, reply.AsString()!) : reply;
        }
        catch (Exception e) when (activity is not null)
        {
            WaveTelemetry.Fail(activity, e);
            throw;
        }
    }

    /// <summary>A client span per command ("GET"), or null (and no allocation) when nothing traces Redis.</summary>
    private Activity? StartCommandActivity(string name)
    {
        if (!WaveTelemetry.RedisActivitySource.HasListeners())
        {
            return null;
        }
        var activity = WaveTelemetry.RedisActivitySource.StartActivity(name, ActivityKind.Client);
        if (activity is not null)
        {
            activity.SetTag(WaveTelemetry.Tags.DbSystem, "redis");
            activity.SetTag(WaveTelemetry.Tags.DbOperation, name);
            activity.SetTag(WaveTelemetry.Tags.ServerAddress, Options.Endpoint);
        }
        return activity;
    }

    private async Task<RedisReply> SendAsync(RedisSession session, PendingCommand command, CancellationToken cancellationToken)
    {
        if (!session.TrySend(command))
        {
            throw session.Fault ?? Unavailable("the connection closed");
        }
        using var cancellation = cancellationToken.Register(() => command.Reply.TrySetCanceled(cancellationToken));
        try
        {
            return await command.Reply.Task.WaitAsync(Options.CommandTimeout, _time, CancellationToken.None);
        }
        catch (TimeoutException)
        {
            // Redis answers small commands in microseconds: silence this long means a dead peer or network, and
            // every command queued behind this one would wait just as long. Start over on a new connection.
            var timedOut = Unavailable($"no reply to {command.Name} within {Options.CommandTimeout.TotalMilliseconds:0} ms");
            session.Close(timedOut);
            throw timedOut;
        }
    }

    private async Task<RedisSession> GetSessionAsync(CancellationToken cancellationToken)
    {
        var session = Volatile.Read(ref _session);
        if (session is { IsFaulted: false })
        {
            return session;
        }
        await _connectGate.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            session = _session;
            if (session is { IsFaulted: false })
            {
                return session;
            }
            if (session is not null)
            {
                LogConnectionLost(_logger, Options.Endpoint, session.Fault?.InnerException?.Message ?? "closed");
                Volatile.Write(ref _session, null);
            }
            if (_lastConnectFailure is not null && _time.GetTimestamp() < _retryNotBefore)
            {
                throw _lastConnectFailure;
            }
            try
            {
                session = await OpenAndHandshakeAsync(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                var failure = e as StateUnavailableException ?? Unavailable(e is OperationCanceledException
                    ? $"could not connect within {Options.ConnectTimeout.TotalMilliseconds:0} ms"
                    : $"could not connect: {e.Message}", e);
                _lastConnectFailure = failure;
                _retryNotBefore = _time.GetTimestamp() + (long)(_backoff.TotalSeconds * _time.TimestampFrequency);
                _backoff = RedisConnectionOptions.NextBackoff(_backoff);
                throw failure;
            }
            _lastConnectFailure = null;
            _backoff = RedisConnectionOptions.FirstBackoff;
            Volatile.Write(ref _session, session);
            LogConnected(_logger, Options.Endpoint, Options.Database);
            return session;
        }
        finally
        {
            _connectGate.Release();
        }
    }

    private async Task<RedisSession> OpenAndHandshakeAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Options.ConnectTimeout);
        var session = await RedisSession.OpenAsync(Options, timeout.Token);
        try
        {
            if (Options.AuthCommand() is { } auth)
            {
                await HandshakeAsync(session, new PendingCommand("AUTH", auth), cancellationToken);
            }
            if (Options.Database != 0)
            {
                await HandshakeAsync(session, new PendingCommand("SELECT", Resp.EncodeCommand(["SELECT", Options.Database])), cancellationToken);
            }
            return session;
        }
        catch (Exception e)
        {
            session.Close(e);
            throw;
        }
    }

    private async Task HandshakeAsync(RedisSession session, PendingCommand command, CancellationToken cancellationToken)
    {
        var reply = await SendAsync(session, command, cancellationToken);
        if (reply.Kind == RedisReplyKind.Error)
        {
            // The server's words (WRONGPASS, NOAUTH, ERR DB index out of range) never contain the password.
            throw Unavailable($"{command.Name} was refused: {reply.AsString()}");
        }
    }

    private StateUnavailableException Unavailable(string reason, Exception? inner = null) =>
        new($"Redis at {Options.Endpoint} is unavailable: {reason}", inner);

    private static string CommandName(IReadOnlyList<object> arguments) =>
        arguments is [string name, ..] ? name.ToUpperInvariant()
        : arguments is [byte[] bytes, ..] ? Encoding.UTF8.GetString(bytes).ToUpperInvariant()
        : throw new ArgumentException("a Redis command starts with its name", nameof(arguments));

    public async ValueTask DisposeAsync()
    {
        await _connectGate.WaitAsync();
        try
        {
            _disposed = true;
            _session?.Close(new ObjectDisposedException(nameof(RedisConnection)));
            _session = null;
        }
        finally
        {
            _connectGate.Release();
        }
    }

    public override string ToString() => $"RedisConnection({Options})";

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to Redis at {Endpoint} (database {Database})")]
    private static partial void LogConnected(ILogger logger, string endpoint, int database);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost the connection to Redis at {Endpoint}: {Reason}; reconnecting on the next command")]
    private static partial void LogConnectionLost(ILogger logger, string endpoint, string reason);
}
