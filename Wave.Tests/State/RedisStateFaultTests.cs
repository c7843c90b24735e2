using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

using StackExchange.Redis;

using Wave.Core.State;
using Wave.ServiceDefaults.Redis;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Redis;

namespace Wave.Tests.State;

/// <summary>
/// The Redis state store and notifications on StackExchange.Redis, configured as the services configure it, when the
/// server goes away, freezes, refuses the login, or restricts the user: a private redis-server per test.
/// </summary>
public sealed class RedisStateFaultTests
{
    private static readonly TimeSpan FailFast = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> action, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await action();
            }
            catch (StateUnavailableException) when (clock.Elapsed < Patience)
            {
                await Task.Delay(100, Token);
            }
            catch (StateUnavailableException e)
            {
                Assert.Fail($"{what} within {Patience.TotalSeconds:0} s: {e.Message}");
                throw;
            }
        }
    }

    private static async Task WaitAsync(Func<bool> condition, TimeSpan patience, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < patience, $"{what} within {patience.TotalSeconds:0} s");
            await Task.Delay(20, Token);
        }
    }

    [Fact]
    public async Task A_killed_redis_fails_commands_at_once_with_state_unavailable_and_the_same_client_works_once_it_is_back()
    {
        await using var server = await RedisServer.StartAsync();
        await using var redis = await RedisClients.AsWaveAsync(server.ConnectionString);
        var store = new RedisKeyValueStore(redis, "fault:");
        await store.SetAsync("request:0123456789abcdef01234567", [1], null, Token);

        await server.KillAsync();
        // The first command may still be written to the dead socket and fail when it closes: no longer than a moment.
        await WaitAsync(() => !redis.IsConnected, Patience, "the client noticing the server is gone");
        var clock = Stopwatch.StartNew();
        var down = await Assert.ThrowsAsync<StateUnavailableException>(() => store.GetAsync("request:0123456789abcdef01234567", Token));

        Assert.True(clock.Elapsed < FailFast, $"a command without a connection took {clock.Elapsed}");
        Assert.StartsWith($"Redis at 127.0.0.1:{server.Port} is unavailable: ", down.Message);
        Assert.DoesNotContain("0123456789abcdef01234567", down.ToString());

        await server.StartAgainAsync();
        var clockBack = Stopwatch.StartNew();
        await EventuallyAsync(async () =>
        {
            await store.SetAsync("k", [2], null, Token);
            return true;
        }, "the same client working again");
        Assert.Equal([2], await store.GetAsync("k", Token));
        TestContext.Current.TestOutputHelper?.WriteLine($"back {clockBack.ElapsedMilliseconds} ms after the restart");
    }

    [Fact]
    public async Task A_frozen_redis_times_commands_out_within_the_command_timeout_and_they_work_when_it_thaws()
    {
        await using var server = await RedisServer.StartAsync();
        await using var redis = await RedisClients.AsWaveAsync(server.ConnectionString);
        var store = new RedisKeyValueStore(redis, "frozen:");
        await store.SetAsync("k", [1], null, Token);
        var pid = server.ProcessId.ToString(CultureInfo.InvariantCulture);

        await TestProcess.RunAsync("kill", ["-STOP", pid]);
        try
        {
            var clock = Stopwatch.StartNew();
            var frozen = await Assert.ThrowsAsync<StateUnavailableException>(() => store.GetAsync("request:0123456789abcdef01234567", Token));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"a command to a frozen server took {clock.Elapsed}");
            Assert.Contains("no reply in time", frozen.Message);
            Assert.DoesNotContain("0123456789abcdef01234567", frozen.ToString());
        }
        finally
        {
            await TestProcess.RunAsync("kill", ["-CONT", pid]);
        }
        Assert.Equal([1], await EventuallyAsync(() => store.GetAsync("k", Token), "commands after the thaw"));
    }

    [Fact]
    public async Task A_refused_password_is_state_unavailable_and_never_shown()
    {
        await using var server = await RedisServer.StartAsync(password: "the-right-one");
        await using var redis = await RedisClients.AsWaveAsync($"127.0.0.1:{server.Port},password=wrong-secret-42");
        var store = new RedisKeyValueStore(redis);

        var refused = await Assert.ThrowsAsync<StateUnavailableException>(() => store.GetAsync("k", Token));

        Assert.DoesNotContain("wrong-secret-42", refused.ToString());
        Assert.Contains($"127.0.0.1:{server.Port}", refused.Message);
    }

    [Fact]
    public async Task An_acl_user_limited_to_waves_keys_and_channels_keeps_the_state_and_its_notifications()
    {
        var user = new RedisAclUser("wave", "acl-secret-77", ["~wave:*", "&wave:*", "+@all"]);
        await using var server = await RedisServer.StartAsync(user: user);
        await using var redis = await RedisClients.AsWaveAsync(server.ConnectionString);
        var store = new RedisKeyValueStore(redis);
        await using var notifications = new RedisStateNotifications(redis);
        var received = new ConcurrentQueue<string>();
        await using var subscription = notifications.Subscribe("revoked-tokens", received.Enqueue);
        await subscription.WaitUntilListeningAsync(Token).WaitAsync(Patience, Token);

        await store.SetAsync("request:t", [7], TimeSpan.FromMinutes(1), Token);
        Assert.Equal(2, await store.IncrementAsync("counter", 2, TimeSpan.FromMinutes(1), Token));
        Assert.Equal(1, await store.HashIncrementAsync("hash", "f", 1, Token));
        await notifications.PublishAsync("revoked-tokens", "t", Token);

        Assert.Equal([7], await store.GetAsync("request:t", Token));
        await WaitAsync(() => received.Contains("t"), Patience, "the notification");
        // The ACL is real: outside Wave's prefix the same login is refused, which the store reports as unavailable.
        var outside = await Assert.ThrowsAsync<StateUnavailableException>(() => new RedisKeyValueStore(redis, "other:").GetAsync("k", Token));
        Assert.Contains("NOPERM", outside.Message);
        Assert.DoesNotContain("acl-secret-77", outside.ToString());
    }

    [Fact]
    public async Task A_subscription_reports_its_loss_when_redis_restarts_and_listens_again_under_a_new_epoch()
    {
        await using var server = await RedisServer.StartAsync();
        await using var redis = await RedisClients.AsWaveAsync(server.ConnectionString);
        await using var publisherRedis = await RedisClients.AsWaveAsync(server.ConnectionString);
        await using var notifications = new RedisStateNotifications(redis, "epoch:");
        await using var publisher = new RedisStateNotifications(publisherRedis, "epoch:");
        var received = new ConcurrentQueue<string>();
        await using var subscription = notifications.Subscribe("c", received.Enqueue);
        var first = await subscription.WaitUntilListeningAsync(Token).WaitAsync(Patience, Token);
        for (var i = 0; i < 100; i++)
        {
            await publisher.PublishAsync("c", $"m{i}", Token);
        }
        await WaitAsync(() => received.Count == 100, Patience, "100 messages");
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"m{i}"), received); // in order, probes never delivered

        await server.RestartAsync();
        await WaitAsync(() => subscription.Epoch != first, Patience, "the epoch changing");
        var second = await subscription.WaitUntilListeningAsync(Token).WaitAsync(Patience, Token);
        Assert.NotEqual(first, second);
        await EventuallyAsync(async () =>
        {
            await publisher.PublishAsync("c", "after", Token);
            return true;
        }, "a publish after the restart");
        await WaitAsync(() => received.Contains("after"), Patience, "a message after the restart");
    }

    [Fact]
    public async Task A_frozen_redis_is_noticed_by_the_subscriptions_ping_and_it_listens_again_when_it_thaws()
    {
        await using var server = await RedisServer.StartAsync();
        await using var redis = await RedisClients.AsWaveAsync(server.ConnectionString);
        await using var notifications = new RedisStateNotifications(redis, "freeze:");
        await using var subscription = notifications.Subscribe("c", _ => { });
        var first = await subscription.WaitUntilListeningAsync(Token).WaitAsync(Patience, Token);
        var pid = server.ProcessId.ToString(CultureInfo.InvariantCulture);

        await TestProcess.RunAsync("kill", ["-STOP", pid]);
        try
        {
            // One ping interval and one ping timeout, with some slack for a loaded machine.
            await WaitAsync(() => subscription.Epoch == 0, notifications.PingInterval + notifications.PingTimeout + TimeSpan.FromSeconds(4), "the frozen server noticed");
        }
        finally
        {
            await TestProcess.RunAsync("kill", ["-CONT", pid]);
        }
        var again = await subscription.WaitUntilListeningAsync(Token).WaitAsync(Patience, Token);
        Assert.NotEqual(first, again);
    }
}
