using System.Text;

using StackExchange.Redis;

using Wave.Core.State;
using Wave.ServiceDefaults.Redis;
using Wave.Tests.Infrastructure.Redis;

namespace Wave.Tests.State;

/// <summary>
/// The behaviour every <see cref="IKeyValueStore"/> must have, run against Redis and against memory: embedded
/// mode is only a faithful stand-in if both pass the same assertions.
/// </summary>
public abstract class KeyValueStoreContractTests : IAsyncLifetime
{
    protected static CancellationToken Token => TestContext.Current.CancellationToken;

    protected IKeyValueStore Store { get; private set; } = null!;

    /// <summary>
    /// Time to live of the expiry tests. Real Redis waits it out, so it is short, yet long enough that a loaded
    /// machine does not let it pass between two consecutive commands.
    /// </summary>
    protected static readonly TimeSpan ShortTimeToLive = TimeSpan.FromSeconds(1);

    /// <summary>Long enough after <see cref="ShortTimeToLive"/> for the value to be gone (Redis expires to the millisecond).</summary>
    private static readonly TimeSpan PastShortTimeToLive = ShortTimeToLive * 1.2;

    protected abstract Task<IKeyValueStore> CreateStoreAsync();

    /// <summary>Lets the given time pass for the store.</summary>
    protected abstract Task PassAsync(TimeSpan time);

    public async ValueTask InitializeAsync() => Store = await CreateStoreAsync();

    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    [Fact]
    public async Task Set_then_get_and_missing_keys()
    {
        await Store.SetAsync("a", Bytes("alpha"), null, Token);

        Assert.Equal(Bytes("alpha"), await Store.GetAsync("a", Token));
        Assert.Null(await Store.GetAsync("b", Token));
    }

    [Fact]
    public async Task Set_overwrites_value_and_time_to_live()
    {
        await Store.SetAsync("a", Bytes("one"), ShortTimeToLive, Token);
        await Store.SetAsync("a", Bytes("two"), null, Token);
        await PassAsync(PastShortTimeToLive);

        Assert.Equal(Bytes("two"), await Store.GetAsync("a", Token));
    }

    [Fact]
    public async Task A_value_expires_after_its_time_to_live()
    {
        await Store.SetAsync("short", Bytes("v"), ShortTimeToLive, Token);
        await Store.SetAsync("long", Bytes("v"), TimeSpan.FromMinutes(5), Token);

        Assert.NotNull(await Store.GetAsync("short", Token));
        await PassAsync(PastShortTimeToLive);

        Assert.Null(await Store.GetAsync("short", Token));
        Assert.NotNull(await Store.GetAsync("long", Token));
    }

    [Fact]
    public async Task Set_if_absent_sets_only_the_first_time_and_again_after_expiry()
    {
        Assert.True(await Store.SetIfAbsentAsync("once", Bytes("first"), ShortTimeToLive, Token));
        Assert.False(await Store.SetIfAbsentAsync("once", Bytes("second"), ShortTimeToLive, Token));
        Assert.Equal(Bytes("first"), await Store.GetAsync("once", Token));

        await PassAsync(PastShortTimeToLive);

        Assert.True(await Store.SetIfAbsentAsync("once", Bytes("third"), null, Token));
        Assert.Equal(Bytes("third"), await Store.GetAsync("once", Token));
    }

    [Fact]
    public async Task Concurrent_set_if_absent_has_exactly_one_winner()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Store.SetIfAbsentAsync("race", Bytes($"v{i}"), null, Token)));

        Assert.Single(results, won => won);
    }

    [Fact]
    public async Task Delete_says_whether_the_key_existed()
    {
        await Store.SetAsync("d", Bytes("v"), null, Token);

        Assert.True(await Store.DeleteAsync("d", Token));
        Assert.False(await Store.DeleteAsync("d", Token));
        Assert.Null(await Store.GetAsync("d", Token));
    }

    [Fact]
    public async Task Increment_counts_and_reads_back_as_decimal_text()
    {
        Assert.Equal(1, await Store.IncrementAsync("c", 1, null, Token));
        Assert.Equal(11, await Store.IncrementAsync("c", 10, null, Token));
        Assert.Equal(8, await Store.IncrementAsync("c", -3, null, Token));

        Assert.Equal(Bytes("8"), await Store.GetAsync("c", Token));
    }

    [Fact]
    public async Task Increment_continues_a_counter_that_was_set_as_text()
    {
        await Store.SetAsync("text-counter", Bytes("41"), null, Token);

        Assert.Equal(42, await Store.IncrementAsync("text-counter", 1, null, Token));
    }

    [Fact]
    public async Task Increment_sets_the_time_to_live_when_it_creates_the_counter_and_keeps_it()
    {
        Assert.Equal(1, await Store.IncrementAsync("window", 1, ShortTimeToLive, Token));
        // A later increment with a new time to live must not push the window's end further out.
        Assert.Equal(2, await Store.IncrementAsync("window", 1, TimeSpan.FromMinutes(5), Token));
        await PassAsync(PastShortTimeToLive);

        Assert.Null(await Store.GetAsync("window", Token));
        Assert.Equal(1, await Store.IncrementAsync("window", 1, ShortTimeToLive, Token));
    }

    [Fact]
    public async Task Concurrent_increments_lose_nothing()
    {
        await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => Store.IncrementAsync("busy", 1, TimeSpan.FromMinutes(1), Token)));

        Assert.Equal(201, await Store.IncrementAsync("busy", 1, null, Token));
    }

    [Fact]
    public async Task Hash_increment_and_get_all()
    {
        Assert.Equal(2, await Store.HashIncrementAsync("h", "pulls", 2, Token));
        Assert.Equal(5, await Store.HashIncrementAsync("h", "pulls", 3, Token));
        Assert.Equal(-1, await Store.HashIncrementAsync("h", "builds", -1, Token));
        await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Store.HashIncrementAsync("h", "many", 1, Token)));

        var all = await Store.HashGetAllAsync("h", Token);

        Assert.Equal(new Dictionary<string, long> { ["pulls"] = 5, ["builds"] = -1, ["many"] = 100 }, all.OrderBy(p => p.Key).ToDictionary());
        Assert.Empty(await Store.HashGetAllAsync("no-such-hash", Token));
    }

    [Fact]
    public async Task A_non_positive_time_to_live_is_refused()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.SetAsync("z", Bytes("v"), TimeSpan.Zero, Token));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.IncrementAsync("z", 1, TimeSpan.FromSeconds(-1), Token));
    }
}

public sealed class InMemoryKeyValueStoreContractTests : KeyValueStoreContractTests
{
    private readonly ManualTimeProvider _clock = new();

    protected override Task<IKeyValueStore> CreateStoreAsync() => Task.FromResult<IKeyValueStore>(new InMemoryKeyValueStore(_clock));

    protected override Task PassAsync(TimeSpan time)
    {
        _clock.Advance(time);
        return Task.CompletedTask;
    }
}

public sealed class RedisKeyValueStoreContractTests(RedisFixture redis) : KeyValueStoreContractTests
{
    private ConnectionMultiplexer? _connection;

    protected override async Task<IKeyValueStore> CreateStoreAsync()
    {
        var server = await redis.GetAsync();
        _connection = await RedisClients.AsWaveAsync(server.ConnectionString);
        // A prefix per test: tests share the server and run in parallel.
        return new RedisKeyValueStore(_connection, $"wave-test:{Guid.NewGuid():N}:");
    }

    protected override Task PassAsync(TimeSpan time) => Task.Delay(time, Token);

    public override async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
    }
}
