using System.Threading.Channels;

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

using Wave.Core.Builds;

namespace Wave.Core.Persistence;

/// <summary>
/// The embedded mode's queue: an unbounded in-process channel. It lives as long as the process, so a crash loses the
/// queued jobs; their records stay PENDING/RUNNING in the store (<see cref="IBuildStore.ListUnfinishedAsync"/>) for the
/// next start to enqueue again. A failed handler puts the job back at the end, until <see cref="BuildQueueOptions.MaxDeliveries"/>.
/// </summary>
public sealed class ChannelBuildQueue : IBuildQueue
{
    private readonly Channel<BuildDelivery> _jobs = Channel.CreateUnbounded<BuildDelivery>();
    private readonly BuildQueueOptions _options;
    private readonly ILogger _logger;
    private readonly List<BuildDelivery> _poison = [];
    private readonly Lock _gate = new();

    public ChannelBuildQueue(BuildQueueOptions options, ILogger<ChannelBuildQueue>? logger = null)
    {
        options.Validate();
        _options = options;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>Jobs set aside after <see cref="BuildQueueOptions.MaxDeliveries"/> failed deliveries.</summary>
    public IReadOnlyList<BuildDelivery> Poison
    {
        get
        {
            lock (_gate)
            {
                return [.. _poison];
            }
        }
    }

    public Task PublishAsync(BuildJob job, CancellationToken cancellationToken) =>
        _jobs.Writer.WriteAsync(new BuildDelivery(job, 1), cancellationToken).AsTask();

    /// <summary>Queues a job found unfinished after a restart, as a redelivery: whatever ran it before died with the process.</summary>
    public Task PublishRecoveredAsync(BuildJob job, CancellationToken cancellationToken) =>
        _jobs.Writer.WriteAsync(new BuildDelivery(job, 2), cancellationToken).AsTask();

    public async Task ConsumeAsync(Func<BuildDelivery, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        var workers = Enumerable.Range(0, _options.Concurrency).Select(_ => Task.Run(async () =>
        {
            while (await WaitToReadAsync(cancellationToken))
            {
                if (_jobs.Reader.TryRead(out var delivery))
                {
                    await RunAsync(delivery, handler, cancellationToken);
                }
            }
        }, CancellationToken.None));
        await Task.WhenAll(workers);
    }

    private async Task<bool> WaitToReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _jobs.Reader.WaitToReadAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task RunAsync(BuildDelivery delivery, Func<BuildDelivery, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        try
        {
            await handler(delivery, cancellationToken);
            return;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutdown: the job goes back unchanged, as an unacknowledged RabbitMQ message would.
            _jobs.Writer.TryWrite(delivery);
            return;
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "build job {BuildId} failed on delivery {Delivery}", delivery.Job.BuildId, delivery.DeliveryCount);
        }
        if (delivery.DeliveryCount >= _options.MaxDeliveries)
        {
            _logger.LogError("build job {BuildId} set aside after {Deliveries} failed deliveries", delivery.Job.BuildId, delivery.DeliveryCount);
            lock (_gate)
            {
                _poison.Add(delivery);
            }
            return;
        }
        _jobs.Writer.TryWrite(delivery with { DeliveryCount = delivery.DeliveryCount + 1 });
    }
}
