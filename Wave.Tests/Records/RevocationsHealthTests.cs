using System.Diagnostics;
using System.Net;
using System.Text.Json;

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

using Wave.RegistryProxy.Content;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Redis;

namespace Wave.Tests.Records;

/// <summary>
/// The registry proxy's <c>revocations</c> check on /health: Healthy while the proxy receives token revocations,
/// Degraded (never Unhealthy: the proxy then bypasses its request cache and still answers correctly) while its
/// subscription is down, against a private redis-server that the tests stop, restart and restrict.
/// </summary>
public sealed class RevocationsHealthTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static Dictionary<string, string?> Settings(RedisServer redis) => new()
    {
        ["ConnectionStrings:redis"] = redis.ConnectionString,
        [StateExtensions.KeyPrefixKey] = $"revocations-health-{Guid.NewGuid():N}:",
    };

    private sealed record Health(HttpStatusCode Code, string Status, string Body, JsonElement Checks)
    {
        public string CheckStatus(string name) => Checks.GetProperty(name).GetProperty("status").GetString()!;

        public string? Description(string name) =>
            Checks.GetProperty(name).TryGetProperty("description", out var description) ? description.GetString() : null;
    }

    private static async Task<Health> HealthAsync(WaveTestHost host)
    {
        using var response = await host.Client.GetAsync("/health", Token);
        var body = await response.Content.ReadAsStringAsync(Token);
        var root = JsonDocument.Parse(body).RootElement.Clone();
        return new Health(response.StatusCode, root.GetProperty("status").GetString()!, body, root.GetProperty("checks"));
    }

    /// <summary>/health until <paramref name="done"/> says so, for at most <see cref="Patience"/>.</summary>
    private static async Task<Health> HealthUntilAsync(WaveTestHost host, Func<Health, bool> done, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var health = await HealthAsync(host);
            if (done(health))
            {
                return health;
            }
            Assert.True(clock.Elapsed < Patience, $"{what} within {Patience.TotalSeconds:0} s; /health is {(int)health.Code}: {health.Body}");
            await Task.Delay(50, Token);
        }
    }

    private static async Task WaitAsync(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < Patience, $"{what} within {Patience.TotalSeconds:0} s");
            await Task.Delay(10, Token);
        }
    }

    [Fact]
    public async Task In_embedded_mode_revocations_are_always_received()
    {
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, new Dictionary<string, string?>());

        var health = await HealthAsync(wave);

        Assert.True(health.Code == HttpStatusCode.OK, health.Body);
        Assert.Equal(["revocations", "self"], health.Checks.EnumerateObject().Select(c => c.Name).Order(StringComparer.Ordinal));
        Assert.Equal("Healthy", health.Status);
        Assert.Equal("Healthy", health.CheckStatus(RevocationsHealthCheck.Name));
        Assert.Contains("in process", health.Description(RevocationsHealthCheck.Name), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_check_is_degraded_while_redis_is_down_and_healthy_again_once_it_is_back()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var proxy = await WaveTestHost.StartAsync(WaveRole.RegistryProxy, Settings(redis));
        var cache = proxy.Services.GetRequiredService<ContainerRequestCache>();
        var firstEpoch = await cache.WaitUntilListeningAsync(Token).WaitAsync(Patience, Token);

        var up = await HealthAsync(proxy);
        Assert.True(up.Code == HttpStatusCode.OK, up.Body);
        Assert.Equal("Healthy", up.Status);
        Assert.Equal("Healthy", up.CheckStatus(RevocationsHealthCheck.Name));
        Assert.Contains($"subscription {firstEpoch}", up.Description(RevocationsHealthCheck.Name), StringComparison.Ordinal);

        await redis.KillAsync();
        await WaitAsync(() => !cache.IsListening, "the proxy noticing that its subscription was lost");
        var down = await HealthAsync(proxy);
        Assert.Equal("Degraded", down.CheckStatus(RevocationsHealthCheck.Name));
        Assert.Contains("not subscribed to token revocations", down.Description(RevocationsHealthCheck.Name), StringComparison.Ordinal);
        Assert.Contains("every pull reads the shared state", down.Description(RevocationsHealthCheck.Name), StringComparison.Ordinal);
        Assert.Equal("Unhealthy", down.CheckStatus("redis")); // what makes /health fail here is Redis itself, not the subscription

        await redis.StartAgainAsync();
        var back = await HealthUntilAsync(proxy, h => h.Code == HttpStatusCode.OK && h.Status == "Healthy", "/health healthy again after Redis returned");
        Assert.Equal("Healthy", back.CheckStatus(RevocationsHealthCheck.Name));
        Assert.NotEqual(0, cache.SubscriptionEpoch);
        Assert.NotEqual(firstEpoch, cache.SubscriptionEpoch);
    }

    [Fact]
    public async Task A_refused_subscription_degrades_the_proxy_but_keeps_it_ready()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var proxy = await WaveTestHost.StartAsync(WaveRole.RegistryProxy, Settings(redis));
        var cache = proxy.Services.GetRequiredService<ContainerRequestCache>();
        var firstEpoch = await cache.WaitUntilListeningAsync(Token).WaitAsync(Patience, Token);
        await using var raw = await RedisClients.RawAsync(redis.ConnectionString);

        // Redis stays up and serves the proxy's reads, but refuses it a new subscription once its subscriber is cut off.
        Assert.Equal("OK", (string?)await raw.ExecuteAsync("ACL", "SETUSER", "default", "-subscribe"));
        Assert.True((long)await raw.ExecuteAsync("CLIENT", "KILL", "TYPE", "pubsub") >= 1);
        await WaitAsync(() => !cache.IsListening, "the proxy noticing that its subscription was lost");
        await Task.Delay(1_500, Token); // a refused resubscription or two (one a second)
        Assert.False(cache.IsListening);

        var degraded = await HealthAsync(proxy);
        Assert.True(degraded.Code == HttpStatusCode.OK, degraded.Body); // still ready: Degraded is not Unhealthy
        Assert.Equal("Degraded", degraded.Status);
        Assert.Equal("Degraded", degraded.CheckStatus(RevocationsHealthCheck.Name));
        Assert.Equal("Healthy", degraded.CheckStatus("redis"));
        Assert.Contains("not subscribed to token revocations", degraded.Description(RevocationsHealthCheck.Name), StringComparison.Ordinal);

        Assert.Equal("OK", (string?)await raw.ExecuteAsync("ACL", "SETUSER", "default", "+subscribe"));
        var healthy = await HealthUntilAsync(proxy, h => h.CheckStatus(RevocationsHealthCheck.Name) == "Healthy", "the revocations check healthy again");
        Assert.True(healthy.Code == HttpStatusCode.OK, healthy.Body);
        Assert.Equal("Healthy", healthy.Status);
        Assert.NotEqual(firstEpoch, cache.SubscriptionEpoch);
    }
}
