using System.Diagnostics;
using System.Text;

using Wave.Core.State;
using Wave.ServiceDefaults.Redis;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Redis;

namespace Wave.Tests.ServiceDefaults.Redis;

public sealed class RedisConnectionTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly string _prefix = $"test:{Guid.NewGuid():N}:";
    private RedisServer _server = null!;
    private RedisConnection _connection = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _server = await redis.GetAsync();
        _connection = new RedisConnection(_server.ConnectionString);
    }

    public async ValueTask DisposeAsync() => await _connection.DisposeAsync();

    private string Key(string name) => _prefix + name;

    [Fact]
    public async Task Ping_answers_with_a_round_trip()
    {
        var roundTrip = await _connection.PingAsync(Token);

        Assert.InRange(roundTrip, TimeSpan.Zero, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Set_then_get_returns_the_same_bytes_and_a_missing_key_is_null()
    {
        byte[] value = [0, 1, 2, 255, 13, 10, 42];

        Assert.True(await _connection.SetAsync(Key("bytes"), value, cancellationToken: Token));

        Assert.Equal(value, await _connection.GetAsync(Key("bytes"), Token));
        Assert.Null(await _connection.GetAsync(Key("missing"), Token));
    }

    [Fact]
    public async Task Values_larger_than_a_socket_read_survive_the_round_trip_alongside_small_ones()
    {
        var large = new byte[3 * 1024 * 1024 + 17];
        new Random(42).NextBytes(large);

        var small = _connection.SetAsync(Key("small"), [7], cancellationToken: Token);
        await _connection.SetAsync(Key("large"), large, cancellationToken: Token);
        await small;
        var readBack = await Task.WhenAll(_connection.GetAsync(Key("large"), Token), _connection.GetAsync(Key("small"), Token), _connection.GetAsync(Key("large"), Token));

        Assert.Equal(large, readBack[0]);
        Assert.Equal([7], readBack[1]);
        Assert.Equal(large, readBack[2]);
    }

    [Fact]
    public async Task Set_with_expiry_sets_a_millisecond_ttl()
    {
        await _connection.SetAsync(Key("px"), "v"u8.ToArray(), TimeSpan.FromSeconds(30), cancellationToken: Token);

        var ttl = (await _connection.ExecuteAsync(["PTTL", Key("px")], Token)).AsInt64();

        Assert.InRange(ttl, 25_000, 30_000);
    }

    [Fact]
    public async Task Set_only_if_absent_sets_once()
    {
        Assert.True(await _connection.SetAsync(Key("nx"), "first"u8.ToArray(), onlyIfAbsent: true, cancellationToken: Token));
        Assert.False(await _connection.SetAsync(Key("nx"), "second"u8.ToArray(), onlyIfAbsent: true, cancellationToken: Token));

        Assert.Equal("first", Encoding.UTF8.GetString((await _connection.GetAsync(Key("nx"), Token))!));
    }

    [Fact]
    public async Task Delete_counts_the_keys_that_existed()
    {
        await _connection.SetAsync(Key("d1"), [1], cancellationToken: Token);
        await _connection.SetAsync(Key("d2"), [2], cancellationToken: Token);

        Assert.Equal(2, await _connection.DeleteAsync([Key("d1"), Key("d2"), Key("d3")], Token));
        Assert.Equal(0, await _connection.DeleteAsync([Key("d1")], Token));
    }

    [Fact]
    public async Task IncrementBy_and_PExpire()
    {
        Assert.Equal(5, await _connection.IncrementByAsync(Key("counter"), 5, Token));
        Assert.Equal(3, await _connection.IncrementByAsync(Key("counter"), -2, Token));

        Assert.True(await _connection.PExpireAsync(Key("counter"), TimeSpan.FromSeconds(10), Token));
        Assert.False(await _connection.PExpireAsync(Key("nothing"), TimeSpan.FromSeconds(10), Token));
        Assert.InRange((await _connection.ExecuteAsync(["PTTL", Key("counter")], Token)).AsInt64(), 1, 10_000);
    }

    [Fact]
    public async Task Hash_increment_and_get_all()
    {
        await _connection.HashIncrementByAsync(Key("hash"), "a", 2, Token);
        await _connection.HashIncrementByAsync(Key("hash"), "a", 3, Token);
        await _connection.HashIncrementByAsync(Key("hash"), "b", -1, Token);

        var all = await _connection.HashGetAllAsync(Key("hash"), Token);

        Assert.Equal(2, all.Count);
        Assert.Equal("5", Encoding.ASCII.GetString(all["a"]));
        Assert.Equal("-1", Encoding.ASCII.GetString(all["b"]));
        Assert.Empty(await _connection.HashGetAllAsync(Key("no-hash"), Token));
    }

    [Fact]
    public async Task Eval_runs_a_script_with_keys_and_arguments()
    {
        var reply = await _connection.EvalAsync("return {KEYS[1], ARGV[1], tonumber(ARGV[2]) * 2}", [Key("k")], ["x", 21], Token);

        var items = reply.AsArray();
        Assert.Equal(Key("k"), items[0].AsString());
        Assert.Equal("x", items[1].AsString());
        Assert.Equal(42, items[2].AsInt64());
    }

    [Fact]
    public async Task Execute_runs_any_command_and_an_error_reply_throws_without_breaking_the_connection()
    {
        await _connection.ExecuteAsync("SET", Key("text"), "hello");
        Assert.Equal(5, (await _connection.ExecuteAsync("STRLEN", Key("text"))).AsInt64());

        var error = await Assert.ThrowsAsync<RedisErrorException>(() => _connection.ExecuteAsync("HINCRBY", Key("text"), "f", 1));
        Assert.StartsWith("WRONGTYPE", error.ServerMessage);
        Assert.Contains("HINCRBY", error.Message);

        Assert.Equal("hello", (await _connection.ExecuteAsync("GET", Key("text"))).AsString());
    }

    [Fact]
    public async Task A_thousand_concurrent_commands_on_one_connection_each_get_their_own_reply()
    {
        const int count = 1000;
        await Task.WhenAll(Enumerable.Range(0, count).Select(i =>
            _connection.SetAsync(Key($"p{i}"), Encoding.ASCII.GetBytes($"value-{i}"), cancellationToken: Token)));

        // Mixed commands in flight together: a reply given to the wrong caller shows up as a wrong value or type.
        var gets = Enumerable.Range(0, count).Select(async i => (i, value: await _connection.GetAsync(Key($"p{i}"), Token))).ToList();
        var increments = Enumerable.Range(0, count).Select(i => _connection.IncrementByAsync(Key("shared-counter"), 1, Token)).ToList();
        var echoes = Enumerable.Range(0, count).Select(async i => (i, echo: (await _connection.ExecuteAsync("ECHO", $"echo-{i}")).AsString())).ToList();

        foreach (var (i, value) in await Task.WhenAll(gets))
        {
            Assert.Equal($"value-{i}", Encoding.ASCII.GetString(value!));
        }
        foreach (var (i, echo) in await Task.WhenAll(echoes))
        {
            Assert.Equal($"echo-{i}", echo);
        }
        var counters = await Task.WhenAll(increments);
        Assert.Equal(Enumerable.Range(1, count).Select(i => (long)i), counters.Order());
    }

    [Fact]
    public async Task DefaultDatabase_selects_the_database_on_connect()
    {
        await using var database3 = new RedisConnection($"{_server.ConnectionString},defaultDatabase=3");
        await database3.SetAsync(Key("db"), "three"u8.ToArray(), cancellationToken: Token);

        Assert.Equal("three", Encoding.UTF8.GetString((await database3.GetAsync(Key("db"), Token))!));
        Assert.Null(await _connection.GetAsync(Key("db"), Token));
        await using var database0 = new RedisConnection(_server.ConnectionString);
        await database0.ExecuteAsync(["SELECT", 3], Token);
        Assert.Equal("three", Encoding.UTF8.GetString((await database0.GetAsync(Key("db"), Token))!));
    }

    [Fact]
    public async Task Password_authenticates_and_a_wrong_one_fails_without_showing_it()
    {
        const string password = "s3cret-Pa55word";
        await using var server = await RedisServer.StartAsync(password);

        await using var authenticated = new RedisConnection(server.ConnectionString);
        await authenticated.SetAsync("auth-key", "ok"u8.ToArray(), cancellationToken: Token);
        Assert.Equal("ok", Encoding.UTF8.GetString((await authenticated.GetAsync("auth-key", Token))!));

        await using var withUser = new RedisConnection($"127.0.0.1:{server.Port},user=default,password={password}");
        Assert.Equal("ok", Encoding.UTF8.GetString((await withUser.GetAsync("auth-key", Token))!));

        await using var wrong = new RedisConnection($"127.0.0.1:{server.Port},password=not-the-{password}");
        var refused = await Assert.ThrowsAsync<StateUnavailableException>(() => wrong.GetAsync("auth-key", Token));
        Assert.Contains($"127.0.0.1:{server.Port}", refused.Message);
        Assert.Contains("WRONGPASS", refused.Message);
        Assert.DoesNotContain(password, refused.ToString());
        Assert.DoesNotContain(password, wrong.ToString());

        await using var none = new RedisConnection($"127.0.0.1:{server.Port}");
        var noAuth = await Assert.ThrowsAsync<RedisErrorException>(() => none.GetAsync("auth-key", Token));
        Assert.StartsWith("NOAUTH", noAuth.ServerMessage);
    }

    [Fact]
    public async Task A_killed_server_fails_commands_fast_and_the_same_client_works_after_restart()
    {
        await using var server = await RedisServer.StartAsync();
        await using var connection = new RedisConnection(server.ConnectionString);
        await connection.SetAsync("before", [1], cancellationToken: Token);

        await server.KillAsync();

        for (var attempt = 0; attempt < 5; attempt++)
        {
            var clock = Stopwatch.StartNew();
            var failure = await Assert.ThrowsAsync<StateUnavailableException>(() => connection.GetAsync("before", Token));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"a command against a dead server took {clock.Elapsed}");
            Assert.Contains($"127.0.0.1:{server.Port}", failure.Message);
        }

        await server.StartAgainAsync();

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await connection.SetAsync("after", "back"u8.ToArray(), cancellationToken: Token);
                break;
            }
            catch (StateUnavailableException) when (deadline.Elapsed < TimeSpan.FromSeconds(5))
            {
                await Task.Delay(100, Token); // within the reconnect backoff
            }
        }
        Assert.Equal("back", Encoding.UTF8.GetString((await connection.GetAsync("after", Token))!));
        Assert.Null(await connection.GetAsync("before", Token)); // the restarted server is empty: it really restarted
    }

    [Fact]
    public async Task Commands_in_flight_when_the_server_dies_fail_with_state_unavailable()
    {
        await using var server = await RedisServer.StartAsync();
        await using var connection = new RedisConnection(server.ConnectionString);
        await connection.PingAsync(Token);

        // A blocking command keeps its reply pending until the server dies under it.
        var blocked = connection.ExecuteAsync(["BLPOP", "never-pushed", 0], Token);
        await Task.Delay(100, Token);
        Assert.False(blocked.IsCompleted);
        await server.KillAsync();

        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAsync<StateUnavailableException>(() => blocked);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the in-flight command failed only after {clock.Elapsed}");
    }

    [Fact]
    public async Task A_frozen_server_times_commands_out_and_the_connection_recovers_when_it_thaws()
    {
        await using var server = await RedisServer.StartAsync();
        await using var connection = new RedisConnection($"{server.ConnectionString},asyncTimeout=500");
        await connection.PingAsync(Token);

        await TestProcess.RunAsync("kill", ["-STOP", server.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        try
        {
            var clock = Stopwatch.StartNew();
            var timedOut = await Assert.ThrowsAsync<StateUnavailableException>(() => connection.PingAsync(Token));
            Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(3));
            Assert.Contains("PING", timedOut.Message);
        }
        finally
        {
            await TestProcess.RunAsync("kill", ["-CONT", server.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await connection.PingAsync(Token);
                break;
            }
            catch (StateUnavailableException) when (deadline.Elapsed < TimeSpan.FromSeconds(5))
            {
                await Task.Delay(100, Token);
            }
        }
    }

    [Fact]
    public async Task Nothing_listening_fails_fast_with_the_endpoint_in_the_message()
    {
        var port = FreePort.Next();
        await using var connection = new RedisConnection($"127.0.0.1:{port},password=hunter2-secret");

        var clock = Stopwatch.StartNew();
        var failure = await Assert.ThrowsAsync<StateUnavailableException>(() => connection.PingAsync(Token));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
        Assert.Contains($"127.0.0.1:{port}", failure.Message);
        Assert.DoesNotContain("hunter2-secret", failure.ToString());
    }

    [Fact]
    public async Task A_cancelled_command_throws_and_the_next_reply_goes_to_the_next_command()
    {
        using var cancelled = new CancellationTokenSource();
        var blocked = _connection.ExecuteAsync(["BLPOP", Key("cancel-list"), 2], cancelled.Token);
        await WaitUntilBlockedOnServerAsync(Key("cancel-list"));
        var clock = Stopwatch.StartNew();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => blocked);
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(500), $"cancellation took {clock.Elapsed}");

        // BLPOP's own (nil) reply arrives when its two seconds are over and must not be handed to this ECHO.
        var echo = await _connection.ExecuteAsync(["ECHO", "mine"], Token);
        Assert.Equal("mine", echo.AsString());
        Assert.True(clock.Elapsed > TimeSpan.FromMilliseconds(500), "the ECHO did not queue behind the BLPOP");
    }

    private async Task WaitUntilBlockedOnServerAsync(string key)
    {
        await using var observer = new RedisConnection(_server.ConnectionString);
        var deadline = Stopwatch.StartNew();
        while (!(await observer.ExecuteAsync(["CLIENT", "LIST"], Token)).AsString()!.Contains("cmd=blpop", StringComparison.Ordinal))
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(5), $"BLPOP {key} never reached the server");
            await Task.Delay(10, Token);
        }
    }
}
