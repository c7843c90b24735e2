using System.Text;

using Wave.Core.State;

namespace Wave.Tests.State;

public sealed class InMemoryKeyValueStoreTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Expired_entries_nobody_reads_are_swept_by_later_writes()
    {
        var clock = new ManualTimeProvider();
        var store = new InMemoryKeyValueStore(clock, sweepInterval: TimeSpan.FromMinutes(1));
        for (var i = 0; i < 1000; i++)
        {
            await store.SetAsync($"token-{i}", [1], TimeSpan.FromSeconds(30), Token);
        }
        await store.SetAsync("kept", [1], null, Token);
        Assert.Equal(1001, store.Count);

        clock.Advance(TimeSpan.FromSeconds(59));
        await store.SetAsync("trigger", [1], null, Token);
        Assert.Equal(1002, store.Count); // expired but the sweep is not due yet

        clock.Advance(TimeSpan.FromSeconds(2));
        await store.SetAsync("trigger", [2], null, Token);

        Assert.Equal(2, store.Count);
        Assert.NotNull(await store.GetAsync("kept", Token));
    }

    [Fact]
    public async Task Reading_an_expired_entry_drops_it()
    {
        var clock = new ManualTimeProvider();
        var store = new InMemoryKeyValueStore(clock);
        await store.SetAsync("k", [1], TimeSpan.FromSeconds(1), Token);

        clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Null(await store.GetAsync("k", Token));
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public async Task Stored_values_are_copies()
    {
        var store = new InMemoryKeyValueStore(new ManualTimeProvider());
        var value = Encoding.ASCII.GetBytes("abc");
        await store.SetAsync("k", value, null, Token);

        value[0] = (byte)'X';
        (await store.GetAsync("k", Token))![1] = (byte)'Y';

        Assert.Equal("abc", Encoding.ASCII.GetString((await store.GetAsync("k", Token))!));
    }

    [Fact]
    public async Task Mixing_kinds_under_one_key_is_an_error()
    {
        var store = new InMemoryKeyValueStore(new ManualTimeProvider());
        await store.SetAsync("text", Encoding.ASCII.GetBytes("not a number"), null, Token);
        await store.HashIncrementAsync("hash", "f", 1, Token);

        await Assert.ThrowsAsync<InvalidOperationException>(() => store.IncrementAsync("text", 1, null, Token));
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.HashIncrementAsync("text", "f", 1, Token));
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.GetAsync("hash", Token));
    }
}
