using Wave.Core.Builds;

namespace Wave.Core.Persistence;

/// <summary>One delivery of a job. <see cref="DeliveryCount"/> is 1 the first time, and grows each time the job comes back.</summary>
public sealed record BuildDelivery(BuildJob Job, int DeliveryCount)
{
    /// <summary>The job was handed out before and not acknowledged: its previous worker failed or died.</summary>
    public bool Redelivered => DeliveryCount > 1;
}

/// <summary>
/// Build jobs waiting for a builder: a RabbitMQ durable queue in distributed mode, an in-process channel in embedded
/// mode. A job is acknowledged only when its handler returned, i.e. the build reached a terminal state; a handler that
/// throws, or a consumer that dies, gives the job back, up to <see cref="BuildQueueOptions.MaxDeliveries"/> deliveries,
/// after which the job is set aside as poison. Handlers must therefore be idempotent: the store's
/// <see cref="IBuildStore.TryCompleteAsync"/> is what makes a build end exactly once.
/// </summary>
public interface IBuildQueue
{
    /// <summary>Returns once the job is durably queued (for RabbitMQ: confirmed by the broker).</summary>
    Task PublishAsync(BuildJob job, CancellationToken cancellationToken);

    /// <summary>
    /// Runs <paramref name="handler"/> for each job, at most <see cref="BuildQueueOptions.Concurrency"/> at a time,
    /// until <paramref name="cancellationToken"/> is cancelled. The handler receives that token: a build cut short by
    /// shutdown is not acknowledged and will be delivered again.
    /// </summary>
    Task ConsumeAsync(Func<BuildDelivery, CancellationToken, Task> handler, CancellationToken cancellationToken);
}

public sealed class BuildQueueOptions
{
    public const string Section = "Wave:Build";

    /// <summary>Builds one builder runs at a time; the RabbitMQ prefetch.</summary>
    public int Concurrency { get; set; } = 2;

    /// <summary>Deliveries of one job before it is set aside as poison (the RabbitMQ dead-letter queue).</summary>
    public int MaxDeliveries { get; set; } = 5;

    /// <summary>The RabbitMQ queue; its dead letters go to <c>&lt;QueueName&gt;.dead</c>.</summary>
    public string QueueName { get; set; } = "wave.builds";

    public void Validate()
    {
        if (Concurrency is < 1 or > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(Concurrency), Concurrency, "build concurrency must be between 1 and 65535");
        }
        if (MaxDeliveries < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDeliveries), MaxDeliveries, "max deliveries must be at least 1");
        }
        ArgumentException.ThrowIfNullOrWhiteSpace(QueueName);
    }
}
