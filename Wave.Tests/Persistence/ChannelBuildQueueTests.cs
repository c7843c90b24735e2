using System.Collections.Concurrent;

using Wave.Core.Persistence;

using static Wave.Tests.Persistence.TestJobs;

namespace Wave.Tests.Persistence;

/// <summary>The embedded mode's in-process queue: the same delivery rules as RabbitMQ, within one process.</summary>
public sealed class ChannelBuildQueueTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Jobs_arrive_in_publish_order_with_one_builder()
    {
        var queue = new ChannelBuildQueue(new BuildQueueOptions { Concurrency = 1 });
        for (var n = 1; n <= 5; n++)
        {
            await queue.PublishAsync(Job(n), Token);
        }
        var received = new ConcurrentQueue<BuildDelivery>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var consumer = queue.ConsumeAsync((delivery, _) =>
        {
            received.Enqueue(delivery);
            return Task.CompletedTask;
        }, stop.Token);

        await EventuallyAsync(() => received.Count == 5, Patience, "five deliveries");
        await stop.CancelAsync();
        await consumer.WaitAsync(Patience, Token);

        Assert.Equal(Enumerable.Range(1, 5).Select(n => Job(n).BuildId), received.Select(d => d.Job.BuildId));
        Assert.All(received, d => Assert.False(d.Redelivered));
    }

    [Fact]
    public async Task No_more_than_the_configured_concurrency_run_at_once()
    {
        var queue = new ChannelBuildQueue(new BuildQueueOptions { Concurrency = 2 });
        for (var n = 1; n <= 3; n++)
        {
            await queue.PublishAsync(Job(n), Token);
        }
        var started = new ConcurrentQueue<string>();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var consumer = queue.ConsumeAsync(async (delivery, _) =>
        {
            started.Enqueue(delivery.Job.BuildId);
            await release.Task;
        }, stop.Token);

        await EventuallyAsync(() => started.Count == 2, Patience, "two builds running");
        await Task.Delay(300, Token);
        Assert.Equal(2, started.Count);
        release.SetResult();
        await EventuallyAsync(() => started.Count == 3, Patience, "the third build");
        await stop.CancelAsync();
        await consumer.WaitAsync(Patience, Token);
    }

    [Fact]
    public async Task A_failing_job_comes_back_until_max_deliveries_then_is_set_aside()
    {
        var queue = new ChannelBuildQueue(new BuildQueueOptions { Concurrency = 1, MaxDeliveries = 3 });
        await queue.PublishAsync(Job(1), Token);
        var counts = new ConcurrentQueue<int>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var consumer = queue.ConsumeAsync((delivery, _) =>
        {
            counts.Enqueue(delivery.DeliveryCount);
            throw new InvalidOperationException("the backend broke");
        }, stop.Token);

        await EventuallyAsync(() => queue.Poison.Count == 1, Patience, "the job set aside");
        Assert.Equal([1, 2, 3], counts);
        Assert.Equal(Job(1).BuildId, queue.Poison[0].Job.BuildId);
        await stop.CancelAsync();
        await consumer.WaitAsync(Patience, Token);
    }

    [Fact]
    public async Task A_build_cut_short_by_shutdown_is_delivered_again_to_the_next_consumer()
    {
        var queue = new ChannelBuildQueue(new BuildQueueOptions { Concurrency = 1 });
        await queue.PublishAsync(Job(1), Token);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (var stop = CancellationTokenSource.CreateLinkedTokenSource(Token))
        {
            var consumer = queue.ConsumeAsync(async (_, cancellationToken) =>
            {
                started.SetResult();
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }, stop.Token);
            await started.Task.WaitAsync(Patience, Token);
            await stop.CancelAsync();
            await consumer.WaitAsync(Patience, Token);
        }

        var again = new TaskCompletionSource<BuildDelivery>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stopAgain = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var next = queue.ConsumeAsync((delivery, _) =>
        {
            again.TrySetResult(delivery);
            return Task.CompletedTask;
        }, stopAgain.Token);
        Assert.Equal(Job(1).BuildId, (await again.Task.WaitAsync(Patience, Token)).Job.BuildId);
        await stopAgain.CancelAsync();
        await next.WaitAsync(Patience, Token);
    }
}
