using System.Collections.Concurrent;

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

using Npgsql;

using Wave.Core.Builds;
using Wave.Core.Persistence;
using Wave.ServiceDefaults.Postgres;
using Wave.ServiceDefaults.RabbitMq;
using Wave.Tests.Infrastructure.Persistence;

using static Wave.Tests.Persistence.TestJobs;

namespace Wave.Tests.Persistence;

/// <summary>The RabbitMQ build queue against a real broker; each test on a queue of its own.</summary>
public sealed class RabbitMqBuildQueueTests(RabbitMqFixture rabbit, PostgresFixture postgres) : IAsyncDisposable
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan RestartPatience = TimeSpan.FromSeconds(60);

    private readonly List<IAsyncDisposable> _owned = [];
    private readonly Dictionary<RabbitMqBuildQueue, TestRabbitMqQueue> _owners = [];
    private readonly List<(CancellationTokenSource Stop, Task Consumer)> _consumers = [];

    private async Task<RabbitMqBuildQueue> QueueAsync(string queueName, int concurrency = 1, int maxDeliveries = 5, RabbitMqServer? server = null)
    {
        server ??= await rabbit.GetAsync();
        var owner = TestRabbitMqQueue.Create(server.ConnectionString,
            new BuildQueueOptions { QueueName = queueName, Concurrency = concurrency, MaxDeliveries = maxDeliveries });
        _owned.Add(owner);
        _owners[owner.Queue] = owner;
        return owner.Queue;
    }

    private void Consume(IBuildQueue queue, Func<BuildDelivery, CancellationToken, Task> handler)
    {
        var stop = CancellationTokenSource.CreateLinkedTokenSource(Token);
        _consumers.Add((stop, Task.Run(() => queue.ConsumeAsync(handler, stop.Token), CancellationToken.None)));
    }

    [Fact]
    public async Task Jobs_arrive_whole_and_in_publish_order_and_are_acked_after_the_handler()
    {
        var name = UniqueQueueName();
        var queue = await QueueAsync(name);
        var jobs = Enumerable.Range(1, 5).Select(n => Job(n)).ToList();
        foreach (var job in jobs)
        {
            await queue.PublishAsync(job, Token);
        }
        Assert.Equal(5u, await queue.CountReadyAsync(deadLetters: false, Token));

        var received = new ConcurrentQueue<BuildDelivery>();
        Consume(queue, (delivery, _) =>
        {
            received.Enqueue(delivery);
            return Task.CompletedTask;
        });
        await EventuallyAsync(() => received.Count == 5, Patience, "five deliveries");

        Assert.Equal(jobs.Select(j => j.BuildId), received.Select(d => d.Job.BuildId));
        Assert.All(received, d => Assert.Equal(1, d.DeliveryCount));
        var first = received.First().Job;
        Assert.Equal(jobs[0].Dockerfile, first.Dockerfile);
        Assert.Equal(jobs[0].ContextFiles, first.ContextFiles);
        Assert.Equal(jobs[0].CreatedAt, first.CreatedAt);
        Assert.Equal(jobs[0].Timeout, first.Timeout);
        Assert.Equal(0u, await ReadyAfterConsumersStopAsync(queue));
    }

    [Fact]
    public async Task With_prefetch_two_a_third_job_waits_until_one_of_the_first_two_is_done()
    {
        var queue = await QueueAsync(UniqueQueueName(), concurrency: 2);
        for (var n = 1; n <= 3; n++)
        {
            await queue.PublishAsync(Job(n), Token);
        }
        var started = new ConcurrentQueue<string>();
        var release = new ConcurrentDictionary<string, TaskCompletionSource>();
        Consume(queue, async (delivery, cancellationToken) =>
        {
            var done = release.GetOrAdd(delivery.Job.BuildId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            started.Enqueue(delivery.Job.BuildId);
            await done.Task.WaitAsync(cancellationToken);
        });

        await EventuallyAsync(() => started.Count == 2, Patience, "two builds running");
        await Task.Delay(TimeSpan.FromMilliseconds(700), Token);
        Assert.Equal(2, started.Count);
        Assert.Equal(1u, await queue.CountReadyAsync(deadLetters: false, Token));

        release[started.First()].SetResult();
        await EventuallyAsync(() => started.Count == 3, Patience, "the third build starting once the first ended");
        Assert.Equal(Job(3).BuildId, started.Last());
        foreach (var done in release.Values)
        {
            done.TrySetResult();
        }
    }

    [Fact]
    public async Task A_builder_that_dies_mid_build_loses_nothing_and_the_build_ends_exactly_once()
    {
        var name = UniqueQueueName();
        var server = await postgres.GetAsync();
        await using var dataSource = NpgsqlDataSource.Create(await server.CreateSchemaAsync(Token));
        var store = new PostgresBuildStore(dataSource, new BuildStoreOptions());
        var job = Job(42);
        await store.CreateAsync(BuildRecord.Pending(job, attempt: 1), Token);
        var publisher = await QueueAsync(name);
        await publisher.PublishAsync(job, Token);

        // The first builder takes the job, takes the build's lease, and dies before acking (its connection is gone, its
        // build never returns, its heartbeat stops at firstLeaseAt).
        var leaseTimeout = TimeSpan.FromSeconds(30);
        var firstLeaseAt = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()); // whole seconds: the store keeps microseconds
        var doomed = await QueueAsync(name);
        var firstStarted = new TaskCompletionSource<BuildDelivery>(TaskCreationOptions.RunContinuationsAsynchronously);
        var neverEnds = new TaskCompletionSource();
        var firstOwned = false;
        Consume(doomed, async (delivery, _) =>
        {
            firstOwned = (await store.TryTakeLeaseAsync(delivery.Job.BuildId, "builder-1", firstLeaseAt, leaseTimeout, CancellationToken.None)).Acquired;
            await store.AppendLogAsync(delivery.Job.BuildId, "first builder: STEP 1/2\n", CancellationToken.None);
            firstStarted.SetResult(delivery);
            await neverEnds.Task;
        });
        var first = await firstStarted.Task.WaitAsync(Patience, Token);
        Assert.Equal(1, first.DeliveryCount);
        Assert.True(firstOwned);
        await _owners[doomed].DisposeAsync(); // its connection closes: as far as the broker knows, the builder died

        // A second builder gets the same job again; it does not own the build while the dead builder's lease is live,
        // owns it once that lease expired, and completes it.
        var survivor = await QueueAsync(name);
        var completions = new ConcurrentQueue<bool>();
        BuildLease? secondWhileLive = null;
        var secondOwned = false;
        var secondDelivery = new TaskCompletionSource<BuildDelivery>(TaskCreationOptions.RunContinuationsAsynchronously);
        Consume(survivor, async (delivery, cancellationToken) =>
        {
            secondWhileLive = await store.TryTakeLeaseAsync(delivery.Job.BuildId, "builder-2", firstLeaseAt.AddSeconds(1), leaseTimeout, cancellationToken);
            secondOwned = (await store.TryTakeLeaseAsync(delivery.Job.BuildId, "builder-2", firstLeaseAt + leaseTimeout + TimeSpan.FromSeconds(1),
                leaseTimeout, cancellationToken)).Acquired;
            completions.Enqueue(await store.TryCompleteAsync(delivery.Job.BuildId, "builder-2",
                new BuildOutcome(true, 0, "sha256:" + new string('c', 64), null, TimeSpan.FromSeconds(2)), DateTimeOffset.UtcNow, cancellationToken));
            secondDelivery.SetResult(delivery);
        });
        var second = await secondDelivery.Task.WaitAsync(Patience, Token);
        Assert.Equal(job.BuildId, second.Job.BuildId);
        Assert.True(second.Redelivered);
        Assert.Equal(2, second.DeliveryCount);
        Assert.Equal(new BuildLease(BuildLeaseOutcome.HeldByAnother, BuildStatus.Running, "builder-1", firstLeaseAt), secondWhileLive);
        Assert.True(secondOwned);

        // The first builder's build finally returns (say it was only frozen): its completion loses, as its lease holder
        // and without a lease alike.
        var late = new BuildOutcome(false, 1, null, "exit code 1", TimeSpan.FromSeconds(9));
        Assert.False(await store.TryCompleteAsync(job.BuildId, "builder-1", late, DateTimeOffset.UtcNow, Token));
        Assert.False(await store.TryCompleteAsync(job.BuildId, late, DateTimeOffset.UtcNow, Token));
        neverEnds.SetResult();

        Assert.Equal([true], completions);
        var record = await store.FindAsync(job.BuildId, Token);
        Assert.Equal(BuildStatus.Completed, record!.Status);
        Assert.True(record.Succeeded);
        Assert.Equal(0u, await ReadyAfterConsumersStopAsync(publisher));
    }

    [Fact]
    public async Task A_job_whose_handler_keeps_failing_is_redelivered_then_dead_lettered_after_max_deliveries()
    {
        var name = UniqueQueueName();
        var queue = await QueueAsync(name, maxDeliveries: 3);
        await queue.PublishAsync(Job(7), Token);
        var counts = new ConcurrentQueue<int>();
        Consume(queue, (delivery, _) =>
        {
            counts.Enqueue(delivery.DeliveryCount);
            throw new InvalidOperationException("the backend broke");
        });

        await EventuallyAsync(() => DeadLetters(queue) == 1, Patience, "the job in the dead-letter queue");
        Assert.Equal([1, 2, 3], counts);
        Assert.Equal(0u, await queue.CountReadyAsync(deadLetters: false, Token));
    }

    [Fact]
    public async Task A_publish_the_broker_refuses_is_published_again_on_a_new_channel()
    {
        var name = UniqueQueueName();
        var server = await rabbit.GetAsync();
        var queue = await QueueAsync(name);
        await queue.PublishAsync(Job(1), Token); // opens the publishing channel and declares the queue

        // The queue disappears behind the publisher's back: its next publish is returned as unroutable (basic.return).
        var factory = new RabbitMQ.Client.ConnectionFactory { Uri = new Uri(server.ConnectionString) };
        await using (var connection = await factory.CreateConnectionAsync(Token))
        await using (var channel = await connection.CreateChannelAsync(cancellationToken: Token))
        {
            await channel.QueueDeleteAsync(name, ifUnused: false, ifEmpty: false, cancellationToken: Token);
        }

        await queue.PublishAsync(Job(2), Token);

        Assert.Equal(1u, await queue.CountReadyAsync(deadLetters: false, Token));
        var received = new ConcurrentQueue<BuildDelivery>();
        Consume(queue, (delivery, _) =>
        {
            received.Enqueue(delivery);
            return Task.CompletedTask;
        });
        await EventuallyAsync(() => received.Count == 1, Patience, "the job published again");
        Assert.Equal(Job(2).BuildId, received.Single().Job.BuildId);
    }

    [Fact]
    public async Task Connection_errors_name_the_endpoint_and_never_the_password()
    {
        const string password = "s3cret-Pa55word";
        var badUri = Assert.Throws<FormatException>(() => TestRabbitMqQueue.Create($"rabbit://wave:{password}@host:1/", new BuildQueueOptions()));
        Assert.DoesNotContain(password, badUri.Message, StringComparison.Ordinal);

        var port = Infrastructure.FreePort.Next();
        await using var owner = TestRabbitMqQueue.Create($"amqp://wave:{password}@127.0.0.1:{port}/", new BuildQueueOptions());
        var error = await Assert.ThrowsAsync<RabbitMqUnavailableException>(() => owner.Queue.PublishAsync(Job(1), Token));
        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(password, error.ToString(), StringComparison.Ordinal);
        var report = await owner.Host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(Token);
        var health = report.Entries["rabbitmq"];
        Assert.Equal(HealthStatus.Unhealthy, health.Status);
        Assert.DoesNotContain(password, health.Description ?? "", StringComparison.Ordinal);
        Assert.DoesNotContain(password, health.Exception?.ToString() ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public async Task Confirmed_jobs_survive_a_broker_restart_and_a_running_consumer_reconnects_after_a_crash()
    {
        await using var server = await RabbitMqServer.StartAsync();
        var name = UniqueQueueName();
        var queue = await QueueAsync(name, server: server);
        await queue.PublishAsync(Job(1), Token);
        await queue.PublishAsync(Job(2), Token);

        await server.StopAsync();
        await server.StartAgainAsync();

        // A builder connecting after the restart finds both jobs.
        var restarted = await QueueAsync(name, server: server);
        Assert.Equal(2u, await restarted.CountReadyAsync(deadLetters: false, Token));
        var received = new ConcurrentQueue<string>();
        Consume(restarted, (delivery, _) =>
        {
            received.Enqueue(delivery.Job.BuildId);
            return Task.CompletedTask;
        });
        await EventuallyAsync(() => received.Count == 2, RestartPatience, "both jobs after the restart");
        Assert.Equal([Job(1).BuildId, Job(2).BuildId], received);

        // Publisher and consumer outlive a second crash: the client reconnects both, and a job published afterwards arrives.
        await server.KillAsync();
        await server.StartAgainAsync();
        await RetryAsync(async () =>
        {
            await queue.PublishAsync(Job(3), Token);
            return true;
        });
        await EventuallyAsync(() => received.Count == 3, RestartPatience, "the job published after the second restart");
        Assert.Equal(Job(3).BuildId, received.Last());
    }

    private static async Task<T> RetryAsync<T>(Func<Task<T>> action)
    {
        var deadline = DateTime.UtcNow + RestartPatience;
        while (true)
        {
            try
            {
                return await action();
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200, Token);
            }
        }
    }

    /// <summary>
    /// Stops this test's consumers, which closes their channels: whatever they had not acked goes back to "ready", so
    /// a count of zero afterwards means every job was acked.
    /// </summary>
    private async Task<uint> ReadyAfterConsumersStopAsync(RabbitMqBuildQueue queue)
    {
        await StopConsumersAsync();
        return await queue.CountReadyAsync(deadLetters: false, Token);
    }

    private async Task StopConsumersAsync()
    {
        foreach (var (stop, consumer) in _consumers)
        {
            await stop.CancelAsync();
            try
            {
                await consumer.WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (Exception e) when (e is OperationCanceledException or TimeoutException or ObjectDisposedException)
            {
            }
            stop.Dispose();
        }
        _consumers.Clear();
    }

    private static uint DeadLetters(RabbitMqBuildQueue queue) => queue.CountReadyAsync(deadLetters: true, Token).GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        await StopConsumersAsync();
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
    }
}
