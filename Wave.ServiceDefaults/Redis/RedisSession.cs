using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Threading.Channels;

using Wave.Core.State;

namespace Wave.ServiceDefaults.Redis;

/// <summary>A command on its way: the encoded bytes, and the reply's slot. Its name is all an error may show.</summary>
internal sealed class PendingCommand(string name, byte[] payload)
{
    public string Name { get; } = name;
    public byte[] Payload { get; } = payload;
    public TaskCompletionSource<RedisReply> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// One TCP connection to Redis, pipelined: a writer loop drains a channel of commands onto the socket without
/// waiting for replies, and a reader loop hands each reply to the oldest command still waiting (Redis answers
/// in order). A command joins the waiting queue before its bytes are written, so no reply can overtake it.
/// Any failure faults the whole session: every command not yet answered fails at once, and the owner opens a
/// new session for the next command.
/// </summary>
internal sealed class RedisSession
{
    private const int FlushThreshold = 64 * 1024;

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly string _endpoint;
    private readonly Channel<PendingCommand> _outgoing = Channel.CreateUnbounded<PendingCommand>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentQueue<PendingCommand> _awaitingReply = new();
    private int _faulted;
    private StateUnavailableException? _fault;

    private RedisSession(Socket socket, Stream stream, string endpoint)
    {
        _socket = socket;
        _stream = stream;
        _endpoint = endpoint;
    }

    public bool IsFaulted => Volatile.Read(ref _faulted) != 0;

    public StateUnavailableException? Fault => Volatile.Read(ref _fault);

    public static async Task<RedisSession> OpenAsync(RedisConnectionOptions options, CancellationToken cancellationToken)
    {
        var (socket, stream) = await ConnectAsync(options, cancellationToken);
        var session = new RedisSession(socket, stream, options.Endpoint);
        session.Start();
        return session;
    }

    /// <summary>A TCP connection to the server (TLS when the options say so), before any command: also the subscriber's.</summary>
    internal static async Task<(Socket Socket, Stream Stream)> ConnectAsync(RedisConnectionOptions options, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            await socket.ConnectAsync(new DnsEndPoint(options.Host, options.Port), cancellationToken);
            Stream stream = new NetworkStream(socket, ownsSocket: false);
            if (options.Ssl)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = options.Host }, cancellationToken);
                stream = ssl;
            }
            return (socket, stream);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private void Start()
    {
        _ = Task.Run(WriteLoopAsync);
        _ = Task.Run(ReadLoopAsync);
    }

    /// <summary>Queues the command; false when the session has failed (the command was not taken).</summary>
    public bool TrySend(PendingCommand command) => !IsFaulted && _outgoing.Writer.TryWrite(command);

    public void Close(Exception reason)
    {
        if (Interlocked.Exchange(ref _faulted, 1) != 0)
        {
            return;
        }
        Volatile.Write(ref _fault, reason as StateUnavailableException
            ?? new StateUnavailableException($"Redis at {_endpoint} is unavailable: {reason.Message}", reason));
        _outgoing.Writer.TryComplete();
        try
        {
            _stream.Dispose();
            _socket.Dispose();
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
        }
        FailUnanswered();
    }

    // Runs after the fault is published, and again by the writer after each hand-over: whichever runs last
    // sees every command, so none is left waiting for a reply that cannot come.
    private void FailUnanswered()
    {
        var fault = Volatile.Read(ref _fault)!;
        while (_outgoing.Reader.TryRead(out var queued))
        {
            queued.Reply.TrySetException(fault);
        }
        while (_awaitingReply.TryDequeue(out var waiting))
        {
            waiting.Reply.TrySetException(fault);
        }
    }

    private async Task WriteLoopAsync()
    {
        var writer = PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true));
        try
        {
            while (await _outgoing.Reader.WaitToReadAsync())
            {
                while (_outgoing.Reader.TryRead(out var command))
                {
                    if (command.Reply.Task.IsCompleted)
                    {
                        continue; // cancelled before it was sent: nothing will wait for its reply
                    }
                    _awaitingReply.Enqueue(command);
                    if (IsFaulted)
                    {
                        FailUnanswered();
                        return;
                    }
                    writer.Write(command.Payload);
                    if (writer.UnflushedBytes >= FlushThreshold)
                    {
                        await writer.FlushAsync();
                    }
                }
                await writer.FlushAsync();
            }
        }
        catch (Exception e)
        {
            Close(new IOException($"writing to Redis at {_endpoint} failed: {e.Message}", e));
        }
    }

    private async Task ReadLoopAsync()
    {
        var reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                var consumed = DispatchReplies(result.Buffer);
                reader.AdvanceTo(consumed, result.Buffer.End);
                if (result.IsCompleted)
                {
                    throw new IOException("the server closed the connection");
                }
            }
        }
        catch (Exception e)
        {
            Close(e);
        }
    }

    private SequencePosition DispatchReplies(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        while (Resp.TryReadReply(ref reader, out var reply))
        {
            if (!_awaitingReply.TryDequeue(out var command))
            {
                throw new RedisProtocolException("the server sent a reply no command asked for");
            }
            command.Reply.TrySetResult(reply);
        }
        return reader.Position;
    }
}
