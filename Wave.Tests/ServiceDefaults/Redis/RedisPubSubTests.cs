using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Threading.Channels;

using Microsoft.Extensions.Logging;

using Wave.ServiceDefaults.Redis;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Redis;

namespace Wave.Tests.ServiceDefaults.Redis;

/// <summary>PUBLISH and <see cref="RedisSubscriber"/> against a real redis-server, including its restart.</summary>
public sealed class RedisPubSubTests(RedisFixture redis)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static string NewChannel() => $"test:{Guid.NewGuid():N}";

    /// <summary>Every message the subscriber hands over, readable in order.</summary>
    private sealed class Inbox
    {
        private readonly Channel<RedisChannelMessage> _messages = Channel.CreateUnbounded<RedisChannelMessage>();

        public void Add(RedisChannelMessage message) => _messages.Writer.TryWrite(message);

        public async Task<RedisChannelMessage> NextAsync()
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Token);
            timeout.CancelAfter(Patience);
            return await _messages.Reader.ReadAsync(timeout.Token);
        }

        public bool TryTake(out RedisChannelMessage? message) => _messages.Reader.TryRead(out message);
    }

    internal sealed class RecordingLogger<T> : ILogger<T>
    {
        public ConcurrentQueue<(LogLevel Level, string Text)> Lines { get; } = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue((logLevel, formatter(state, exception) + (exception is null ? "" : " " + exception)));

        public string All => string.Join('\n', Lines.Select(line => $"{line.Level}: {line.Text}"));
    }

    private static async Task WaitForAsync(Func<bool> condition, string what, TimeSpan? within = null)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < (within ?? Patience), $"{what} did not happen within {within ?? Patience}");
            await Task.Delay(20, Token);
        }
    }

    /// <summary>PUBLISH until a subscriber receives it: a subscription confirmed by the server receives every later message.</summary>
    private static async Task<long> PublishAsync(RedisConnection connection, string channel, string message) =>
        await connection.PublishAsync(channel, Encoding.UTF8.GetBytes(message), Token);

    [Fact]
    public async Task A_subscriber_receives_every_message_published_after_it_subscribed_in_order_and_binary_safe()
    {
        var server = await redis.GetAsync();
        await using var connection = new RedisConnection(server.ConnectionString);
        var channel = NewChannel();
        var other = NewChannel();
        var inbox = new Inbox();
        await using var subscriber = new RedisSubscriber(RedisConnectionOptions.Parse(server.ConnectionString), [channel, other], inbox.Add);

        Assert.Equal(0, await PublishAsync(connection, channel, "before anyone listens"));
        Assert.Equal(0, subscriber.Epoch);
        subscriber.Start();
        Assert.Equal(1, await subscriber.WaitUntilSubscribedAsync(Token));
        Assert.True(subscriber.IsSubscribed);

        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(1, await PublishAsync(connection, channel, i.ToString(CultureInfo.InvariantCulture)));
        }
        byte[] binary = [0, 13, 10, 255, (byte)'*', (byte)'$'];
        Assert.Equal(1, await connection.PublishAsync(other, binary, Token));

        for (var i = 0; i < 100; i++)
        {
            var message = await inbox.NextAsync();
            Assert.Equal(channel, message.Channel);
            Assert.Equal(i.ToString(CultureInfo.InvariantCulture), message.Text);
        }
        var last = await inbox.NextAsync();
        Assert.Equal(other, last.Channel);
        Assert.Equal(binary, last.Payload);
        Assert.False(inbox.TryTake(out _)); // "before anyone listens" was not kept for it
    }

    [Fact]
    public async Task Every_subscriber_of_a_channel_receives_a_message_and_a_failing_handler_does_not_stop_the_next_messages()
    {
        var server = await redis.GetAsync();
        await using var connection = new RedisConnection(server.ConnectionString);
        var channel = NewChannel();
        var options = RedisConnectionOptions.Parse(server.ConnectionString);
        var inbox = new Inbox();
        var logger = new RecordingLogger<RedisSubscriber>();
        var calls = 0;
        await using var failing = new RedisSubscriber(options, [channel], message =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                throw new InvalidOperationException("handler broke on the first message");
            }
            inbox.Add(message);
        }, logger);
        var second = new Inbox();
        await using var other = new RedisSubscriber(options, [channel], second.Add);
        failing.Start();
        other.Start();
        await failing.WaitUntilSubscribedAsync(Token);
        await other.WaitUntilSubscribedAsync(Token);

        Assert.Equal(2, await PublishAsync(connection, channel, "one"));
        Assert.Equal(2, await PublishAsync(connection, channel, "two"));

        Assert.Equal("two", (await inbox.NextAsync()).Text);
        Assert.Equal("one", (await second.NextAsync()).Text);
        Assert.Equal("two", (await second.NextAsync()).Text);
        Assert.Contains(logger.Lines, line => line.Level == LogLevel.Error && line.Text.Contains("handler broke on the first message", StringComparison.Ordinal));
        Assert.Equal(1, failing.Epoch); // the failure did not cost the subscription
    }

    [Fact]
    public async Task After_the_server_restarts_the_subscriber_reports_the_loss_resubscribes_under_a_new_epoch_and_receives_again()
    {
        await using var server = await RedisServer.StartAsync(password: "pubsub-secret-pw");
        await using var connection = new RedisConnection(server.ConnectionString);
        var channel = NewChannel();
        var inbox = new Inbox();
        var logger = new RecordingLogger<RedisSubscriber>();
        await using var subscriber = new RedisSubscriber(RedisConnectionOptions.Parse(server.ConnectionString), [channel], inbox.Add, logger);
        subscriber.Start();
        Assert.Equal(1, await subscriber.WaitUntilSubscribedAsync(Token));
        Assert.Equal(1, await PublishAsync(connection, channel, "first"));
        Assert.Equal("first", (await inbox.NextAsync()).Text);

        await server.KillAsync();

        await WaitForAsync(() => !subscriber.IsSubscribed, "noticing the killed server", TimeSpan.FromSeconds(3));
        Assert.Equal(0, subscriber.Epoch);
        var waiting = subscriber.WaitUntilSubscribedAsync(Token);
        await Task.Delay(300, Token); // a few reconnection attempts against nothing
        Assert.False(waiting.IsCompleted);
        Assert.Contains(logger.Lines, line => line.Level == LogLevel.Warning && line.Text.Contains("Lost the subscription", StringComparison.Ordinal)
            && line.Text.Contains($"127.0.0.1:{server.Port}", StringComparison.Ordinal));

        await server.StartAgainAsync();

        var epoch = await waiting.WaitAsync(Patience, Token);
        Assert.Equal(2, epoch);
        Assert.Equal(2, subscriber.Epoch);
        var receivers = 0L;
        var clock = Stopwatch.StartNew();
        while (receivers == 0 && clock.Elapsed < Patience)
        {
            try
            {
                receivers = await PublishAsync(connection, channel, "after the restart");
            }
            catch (Wave.Core.State.StateUnavailableException)
            {
                await Task.Delay(100, Token); // the publishing connection reconnects on its own backoff
            }
        }
        Assert.Equal(1, receivers);
        Assert.Equal("after the restart", (await inbox.NextAsync()).Text);
        Assert.Equal(1, logger.Lines.Count(line => line.Level == LogLevel.Warning && line.Text.Contains("Lost the subscription", StringComparison.Ordinal)));
        Assert.DoesNotContain("pubsub-secret-pw", logger.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_frozen_server_is_noticed_by_the_keep_alive_and_the_subscription_comes_back_when_it_thaws()
    {
        await using var server = await RedisServer.StartAsync();
        await using var connection = new RedisConnection(server.ConnectionString);
        var channel = NewChannel();
        var inbox = new Inbox();
        var options = RedisConnectionOptions.Parse($"{server.ConnectionString},asyncTimeout=500,connectTimeout=500");
        await using var subscriber = new RedisSubscriber(options, [channel], inbox.Add) { PingInterval = TimeSpan.FromMilliseconds(200) };
        subscriber.Start();
        await subscriber.WaitUntilSubscribedAsync(Token);

        var pid = server.ProcessId.ToString(CultureInfo.InvariantCulture);
        await TestProcess.RunAsync("kill", ["-STOP", pid]);
        try
        {
            await WaitForAsync(() => !subscriber.IsSubscribed, "noticing the frozen server", TimeSpan.FromSeconds(3));
        }
        finally
        {
            await TestProcess.RunAsync("kill", ["-CONT", pid]);
        }

        Assert.True(await subscriber.WaitUntilSubscribedAsync(Token).WaitAsync(Patience, Token) >= 2);
        Assert.Equal(1, await PublishAsync(connection, channel, "thawed"));
        Assert.Equal("thawed", (await inbox.NextAsync()).Text);
    }

    [Fact]
    public async Task A_refused_password_keeps_the_subscriber_down_and_is_logged_without_the_password()
    {
        await using var server = await RedisServer.StartAsync(password: "the-right-one");
        var logger = new RecordingLogger<RedisSubscriber>();
        var options = RedisConnectionOptions.Parse($"127.0.0.1:{server.Port},password=wrong-secret-pw");
        await using var subscriber = new RedisSubscriber(options, [NewChannel()], _ => { }, logger);
        subscriber.Start();

        await WaitForAsync(() => logger.Lines.Any(line => line.Level == LogLevel.Warning), "a warning about the refused AUTH");

        Assert.False(subscriber.IsSubscribed);
        Assert.Contains("AUTH was refused", logger.All, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-secret-pw", logger.All, StringComparison.Ordinal);
        Assert.DoesNotContain("the-right-one", logger.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Disposing_a_subscriber_unsubscribes_it()
    {
        var server = await redis.GetAsync();
        await using var connection = new RedisConnection(server.ConnectionString);
        var channel = NewChannel();
        var subscriber = new RedisSubscriber(RedisConnectionOptions.Parse(server.ConnectionString), [channel], _ => { });
        subscriber.Start();
        await subscriber.WaitUntilSubscribedAsync(Token);
        Assert.Equal(1, await PublishAsync(connection, channel, "x"));

        await subscriber.DisposeAsync();

        Assert.Equal(0, subscriber.Epoch);
        // The server drops a closed client's subscriptions when it reads the close.
        var receivers = 1L;
        var clock = Stopwatch.StartNew();
        while (receivers != 0 && clock.Elapsed < Patience)
        {
            receivers = await PublishAsync(connection, channel, "y");
        }
        Assert.Equal(0, receivers);
    }
}
