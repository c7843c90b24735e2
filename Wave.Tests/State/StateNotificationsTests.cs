using System.Collections.Concurrent;
using System.Diagnostics;

using Wave.Core.State;
using Wave.ServiceDefaults.Redis;
using Wave.Tests.Infrastructure.Redis;

namespace Wave.Tests.State;

/// <summary><see cref="IStateNotifications"/>: in process (embedded mode) and on a real Redis (distributed mode).</summary>
public sealed class StateNotificationsTests(RedisFixture redis)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task In_memory_a_publish_reaches_every_subscriber_of_the_channel_before_it_returns()
    {
        var notifications = new InMemoryStateNotifications();
        var a = new List<string>();
        var b = new List<string>();
        var elsewhere = new List<string>();
        var first = notifications.Subscribe("revoked", a.Add);
        await using var second = notifications.Subscribe("revoked", message => b.Add(message));
        await using var other = notifications.Subscribe("other", elsewhere.Add);
        await using var failing = notifications.Subscribe("revoked", _ => throw new InvalidOperationException("broken subscriber"));
        Assert.Equal(1, first.Epoch);
        Assert.Equal(1, await first.WaitUntilListeningAsync(Token));

        await notifications.PublishAsync("revoked", "t1", Token);
        await first.DisposeAsync();
        await notifications.PublishAsync("revoked", "t2", Token);

        Assert.Equal(["t1"], a);
        Assert.Equal(["t1", "t2"], b);
        Assert.Empty(elsewhere);
        Assert.Equal(0, first.Epoch);
    }

    [Fact]
    public async Task On_redis_a_publish_reaches_subscribers_of_the_same_prefix_in_every_process_and_not_those_of_another_prefix()
    {
        var server = await redis.GetAsync();
        var prefix = $"notify-{Guid.NewGuid():N}:";
        await using var publisherConnection = await RedisClients.AsWaveAsync(server.ConnectionString);
        await using var subscriberConnection = await RedisClients.AsWaveAsync(server.ConnectionString);
        await using var publisher = new RedisStateNotifications(publisherConnection, prefix);
        await using var listener = new RedisStateNotifications(subscriberConnection, prefix);
        await using var otherDeployment = new RedisStateNotifications(subscriberConnection, "other-" + prefix);
        var received = new ConcurrentQueue<string>();
        var foreign = new ConcurrentQueue<string>();
        await using var subscription = listener.Subscribe("revoked", received.Enqueue);
        await using var foreignSubscription = otherDeployment.Subscribe("revoked", foreign.Enqueue);
        Assert.Equal(1, await subscription.WaitUntilListeningAsync(Token));
        await foreignSubscription.WaitUntilListeningAsync(Token);
        Assert.Equal(1, subscription.Epoch);

        await publisher.PublishAsync("revoked", "0123456789abcdef01234567", Token);

        var clock = Stopwatch.StartNew();
        while (received.IsEmpty && clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(10, Token);
        }
        Assert.Equal(["0123456789abcdef01234567"], received);
        Assert.Empty(foreign);
    }
}
