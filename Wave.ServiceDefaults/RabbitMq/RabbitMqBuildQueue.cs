using System.Collections.Concurrent;
using System.Text.Json;

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

using Wave.Core.Builds;
using Wave.Core.Persistence;

namespace Wave.ServiceDefaults.RabbitMq;

/// <summary>
/// The distributed mode's build queue. The queue is a durable <em>quorum</em> queue (<c>wave.builds</c>): messages are
/// persistent and replicated to disk, and the broker itself counts deliveries (<c>x-delivery-count</c>), including
/// those cut short by a consumer that crashed. That count is the poison guard: with <c>x-delivery-limit</c> set to
/// <see cref="BuildQueueOptions.MaxDeliveries"/> − 1 the broker moves a job that keeps failing (or keeps killing its
/// builder) to the dead-letter queue <c>&lt;queue&gt;.dead</c> instead of handing it out forever; a job whose body is not
/// a job goes there at once. Publishing waits for the broker's confirm. Each consumer channel has a prefetch of
/// <see cref="BuildQueueOptions.Concurrency"/> and runs that many handlers at once; a job is acked only after its
/// handler returned, nacked (requeued) when it threw, and left unacked on shutdown so that it comes back.
/// The connection is the process's one from Aspire.RabbitMQ.Client (its health check and tracing with it); lost
/// connections are recovered by the client (connection, topology and consumer); acks of deliveries made before a
/// recovery are skipped, as the broker already requeued those.
/// </summary>
public sealed class RabbitMqBuildQueue : IBuildQueue
{
    private static readonly TimeSpan ConnectRetryDelay = TimeSpan.FromSeconds(1);

    private readonly Func<CancellationToken, Task<IConnection>> _connect;
    private readonly BuildQueueOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _connectGate = new(1, 1);
    private readonly SemaphoreSlim _publishGate = new(1, 1);
    private IConnection? _connection;
    private IChannel? _publishChannel;

    /// <param name="connect">
    /// The process's connection (Aspire.RabbitMQ.Client's <see cref="IConnection"/>, made on first use and recovered by
    /// the client after any loss); it may throw while the broker is unreachable, and is asked again next time.
    /// </param>
    /// <param name="endpoint">host:port[/vhost] of the broker, for messages: never the credentials.</param>
    public RabbitMqBuildQueue(Func<CancellationToken, Task<IConnection>> connect, string endpoint, BuildQueueOptions options, ILogger<RabbitMqBuildQueue>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(connect);
        options.Validate();
        _connect = connect;
        _options = options;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        Endpoint = endpoint;
    }

    /// <summary>host:port[/vhost], for messages: never the credentials.</summary>
    public string Endpoint { get; }

    public string QueueName => _options.QueueName;

    public string DeadLetterQueueName => _options.QueueName + ".dead";

    /// <summary>host:port[/vhost] of an amqp:// connection string; a string that is not one is refused without repeating it.</summary>
    public static string EndpointOf(string connectionString)
    {
        if (!Uri.TryCreate(connectionString.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("amqp" or "amqps"))
        {
            // The text may hold a password: say what is wrong without repeating it.
            throw new FormatException("the RabbitMQ connection string must be an amqp://user:password@host:port/vhost URI");
        }
        var port = uri.IsDefaultPort || uri.Port < 0 ? (uri.Scheme == "amqps" ? 5671 : 5672) : uri.Port;
        var vhost = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        return $"{uri.Host}:{port}{(vhost is "" or "/" ? "" : "/" + vhost)}";
    }

    public async Task PublishAsync(BuildJob job, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(job);
        var properties = new BasicProperties
        {
            Persistent = true,
            ContentType = "application/json",
            MessageId = job.BuildId,
            Timestamp = new AmqpTimestamp(job.CreatedAt.ToUnixTimeSeconds()),
        };
        await _publishGate.WaitAsync(cancellationToken);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                var channel = _publishChannel is { IsOpen: true } open ? open : await OpenPublishChannelAsync(cancellationToken);
                try
                {
                    // With confirmations tracked, this returns once the broker confirmed (written to the quorum log),
                    // and throws when it nacked the message or returned it as unroutable.
                    await channel.BasicPublishAsync(exchange: "", routingKey: _options.QueueName, mandatory: true, basicProperties: properties,
                        body: body, cancellationToken: cancellationToken);
                    return;
                }
                catch (PublishException e)
                {
                    // Refused, not lost: a nack (the queue could not take it just then, e.g. a quorum queue still
                    // electing its leader under load) or a return (the queue is gone: it is declared again on a new
                    // channel). A job published twice is harmless, the build's lease runs it once.
                    var refusal = e.IsReturn ? $"returned it as unroutable (no queue {_options.QueueName})" : "did not confirm it (nack)";
                    await CloseFaultedPublishChannelAsync();
                    if (attempt == PublishAttempts)
                    {
                        throw new InvalidOperationException($"RabbitMQ at {Endpoint} {refusal} for build job {job.BuildId}, {PublishAttempts} attempts in a row", e);
                    }
                    _logger.LogWarning("RabbitMQ at {Endpoint} {Refusal} for build job {BuildId}; publishing again (attempt {Attempt} of {Attempts})",
                        Endpoint, refusal, job.BuildId, attempt + 1, PublishAttempts);
                    await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), cancellationToken);
                }
            }
        }
        finally
        {
            _publishGate.Release();
        }
    }

    private const int PublishAttempts = 4;

    private async Task CloseFaultedPublishChannelAsync()
    {
        if (_publishChannel is { } channel)
        {
            _publishChannel = null;
            await channel.DisposeAsync();
        }
    }

    private async Task<IChannel> OpenPublishChannelAsync(CancellationToken cancellationToken)
    {
        var connection = await ConnectAsync(cancellationToken);
        if (_publishChannel is { } stale)
        {
            await stale.DisposeAsync();
        }
        var channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
        await DeclareAsync(channel, cancellationToken);
        _publishChannel = channel;
        return channel;
    }

    /// <summary>Jobs waiting in the queue (not those delivered and unacked), for tests and diagnostics.</summary>
    public async Task<uint> CountReadyAsync(bool deadLetters, CancellationToken cancellationToken)
    {
        var connection = await ConnectAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        await DeclareAsync(channel, cancellationToken);
        var result = await channel.QueueDeclarePassiveAsync(deadLetters ? DeadLetterQueueName : QueueName, cancellationToken);
        return result.MessageCount;
    }

    public async Task ConsumeAsync(Func<BuildDelivery, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await ConsumeOnOneChannelAsync(handler, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.LogWarning(e, "consuming build jobs from {Queue} at {Endpoint} failed; trying again", _options.QueueName, Endpoint);
                await DelayAsync(ConnectRetryDelay, cancellationToken);
            }
        }
    }

    /// <summary>Consumes until cancelled (returns) or until the broker closed the channel (throws, to start over).</summary>
    private async Task ConsumeOnOneChannelAsync(Func<BuildDelivery, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        var connection = await ConnectAsync(cancellationToken);
        var concurrency = (ushort)_options.Concurrency;
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        await DeclareAsync(channel, cancellationToken);
        await channel.BasicQosAsync(prefetchSize: 0, prefetchCount: concurrency, global: false, cancellationToken);

        var closedByBroker = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        channel.ChannelShutdownAsync += (_, args) =>
        {
            // A lost connection is the client's to recover; a channel the broker closed on its own is ours to reopen.
            if (connection.IsOpen)
            {
                closedByBroker.TrySetResult(args.ReplyText);
            }
            return Task.CompletedTask;
        };
        var inFlight = new ConcurrentDictionary<ulong, Task>();
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            // The build runs outside the client's dispatcher: a dispatcher busy for the length of a build would hold up
            // the client's own shutdown and recovery. The prefetch is what bounds how many run at once.
            var job = ReadJob(delivery);
            var tag = delivery.DeliveryTag;
            var count = DeliveryCount(delivery);
            var work = Task.Run(() => HandleAsync(channel, tag, job, count, handler, cancellationToken), CancellationToken.None);
            inFlight[tag] = work;
            _ = work.ContinueWith(_ => inFlight.TryRemove(tag, out Task? _), TaskScheduler.Default);
            return Task.CompletedTask;
        };
        var consumerTag = await channel.BasicConsumeAsync(_options.QueueName, autoAck: false, consumer, cancellationToken);
        try
        {
            var closed = await closedByBroker.Task.WaitAsync(cancellationToken);
            throw new InvalidOperationException($"the broker closed the build queue's channel: {closed}");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutdown: stop new deliveries, let running handlers see the cancellation, then close the channel; what
            // they did not ack goes back to the queue.
            await TryAsync(() => channel.BasicCancelAsync(consumerTag, noWait: false, CancellationToken.None), "cancel the consumer");
            await Task.WhenAll(inFlight.Values).WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
            throw;
        }
    }

    private BuildJob? ReadJob(BasicDeliverEventArgs delivery)
    {
        try
        {
            return JsonSerializer.Deserialize<BuildJob>(delivery.Body.Span);
        }
        catch (JsonException e)
        {
            _logger.LogError(e, "a message on {Queue} is not a build job; dead-lettering it", _options.QueueName);
            return null;
        }
    }

    private async Task HandleAsync(IChannel channel, ulong tag, BuildJob? job, int count,
        Func<BuildDelivery, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        if (job is null)
        {
            await SettleAsync(channel, tag, ack: false, requeue: false);
            return;
        }
        try
        {
            await handler(new BuildDelivery(job, count), cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return; // shutdown: left unacked, the broker requeues it when the channel closes
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "build job {BuildId} failed on delivery {Delivery} of {Max}", job.BuildId, count, _options.MaxDeliveries);
            await SettleAsync(channel, tag, ack: false, requeue: true);
            return;
        }
        await SettleAsync(channel, tag, ack: true, requeue: false);
    }

    /// <summary>The broker's count of earlier returns, plus this delivery.</summary>
    private static int DeliveryCount(BasicDeliverEventArgs delivery)
    {
        if (delivery.BasicProperties.Headers?.TryGetValue("x-delivery-count", out var value) == true && value is not null)
        {
            return 1 + Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture);
        }
        return delivery.Redelivered ? 2 : 1;
    }

    /// <remarks>
    /// After an automatic recovery the client numbers new deliveries on from the last tag it saw before, and drops an
    /// ack or nack of a tag from before the recovery (the broker requeued that delivery and sends it again). So a
    /// delivery is settled by its tag whenever the channel is open, whether or not a recovery happened meanwhile.
    /// Deciding by a recovery counter instead once left a redelivery received just before the recovery event unacked
    /// for good, and with it the whole prefetch: the builder took no job again.
    /// </remarks>
    private async Task SettleAsync(IChannel channel, ulong deliveryTag, bool ack, bool requeue)
    {
        if (!channel.IsOpen)
        {
            // The delivery belonged to a connection that is gone; the broker requeued it and will deliver it again.
            _logger.LogInformation("delivery {Tag} outlived its connection; the broker delivers it again", deliveryTag);
            return;
        }
        await TryAsync(
            () => ack
                ? channel.BasicAckAsync(deliveryTag, multiple: false, CancellationToken.None).AsTask()
                : channel.BasicNackAsync(deliveryTag, multiple: false, requeue, CancellationToken.None).AsTask(),
            ack ? "ack a build job" : "nack a build job");
    }

    private async Task TryAsync(Func<Task> action, string what)
    {
        try
        {
            await action();
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "could not {What} on {Endpoint}", what, Endpoint);
        }
    }

    private async Task DeclareAsync(IChannel channel, CancellationToken cancellationToken)
    {
        await channel.QueueDeclareAsync(DeadLetterQueueName, durable: true, exclusive: false, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["x-queue-type"] = "quorum" }, cancellationToken: cancellationToken);
        await channel.QueueDeclareAsync(_options.QueueName, durable: true, exclusive: false, autoDelete: false,
            arguments: new Dictionary<string, object?>
            {
                ["x-queue-type"] = "quorum",
                ["x-delivery-limit"] = _options.MaxDeliveries - 1,
                ["x-dead-letter-exchange"] = "",
                ["x-dead-letter-routing-key"] = DeadLetterQueueName,
            },
            cancellationToken: cancellationToken);
    }

    private async Task<IConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        if (_connection is { } existing)
        {
            return existing;
        }
        await _connectGate.WaitAsync(cancellationToken);
        try
        {
            if (_connection is { } raced)
            {
                return raced;
            }
            IConnection connection;
            try
            {
                connection = await _connect(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The client's message can carry the URI; ours names the endpoint only.
                throw new RabbitMqUnavailableException($"cannot connect to RabbitMQ at {Endpoint}: {Innermost(e).GetType().Name}", e);
            }
            connection.RecoverySucceededAsync += (_, _) =>
            {
                _logger.LogInformation("the connection to RabbitMQ at {Endpoint} was recovered", Endpoint);
                return Task.CompletedTask;
            };
            _connection = connection;
            return connection;
        }
        finally
        {
            _connectGate.Release();
        }
    }

    private static Exception Innermost(Exception e) => e.InnerException is { } inner ? Innermost(inner) : e;

    private static async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }
}

/// <summary>RabbitMQ could not be reached; the message names the endpoint, never the credentials.</summary>
public sealed class RabbitMqUnavailableException(string message, Exception inner) : Exception(message, inner);
