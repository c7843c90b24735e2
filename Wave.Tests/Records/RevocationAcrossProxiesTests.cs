using System.Diagnostics;
using System.Text.Json.Nodes;

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

using Wave.RegistryProxy.Content;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Redis;

namespace Wave.Tests.Records;

/// <summary>
/// Revocation in the distributed topology: the Api and two registry proxies as separate hosts sharing only a real
/// Redis. A proxy that holds the token in its request cache refuses it as soon as the Api has revoked it, and never
/// serves from that cache what it may have learnt while it could miss a revocation.
/// </summary>
public sealed class RevocationAcrossProxiesTests(RegistryFixture registryFixture, RedisFixture redisFixture)
{
    private static readonly TestLayer Layer = TestLayer.Create(new Dictionary<string, string> { ["wave/revoked.txt"] = "revoked everywhere" });

    /// <summary>The longest a revocation may take to reach another process's proxy (the notification's trip).</summary>
    private static readonly TimeSpan NotificationBound = TimeSpan.FromSeconds(1);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static Dictionary<string, string?> Settings(TestRegistries registries, string redisConnectionString) => RecordsTestSupport.Settings(registries, new()
    {
        ["ConnectionStrings:redis"] = redisConnectionString,
        // Keys and notification channels of this test only, on a Redis other tests share.
        [StateExtensions.KeyPrefixKey] = $"revocation-{Guid.NewGuid():N}:",
        // A cache that would serve the token for an hour: only the revocation notice can make a proxy forget it.
        ["Wave:Proxy:RequestCacheTime"] = "01:00:00",
    });

    private static async Task<long> ListeningAsync(WaveTestHost proxy) =>
        await proxy.Services.GetRequiredService<ContainerRequestCache>().WaitUntilListeningAsync(Token).WaitAsync(TimeSpan.FromSeconds(10), Token);

    private static string Code(string body) => JsonNode.Parse(body)!["errors"]![0]!["code"]!.GetValue<string>();

    [Fact]
    public async Task A_token_revoked_through_the_api_is_refused_at_once_by_another_proxy_process_that_had_it_cached()
    {
        var registries = await registryFixture.GetAsync();
        var redis = await redisFixture.GetAsync();
        var settings = Settings(registries, redis.ConnectionString);
        var prefix = settings[StateExtensions.KeyPrefixKey]!;
        await using var proxyA = await WaveTestHost.StartAsync(WaveRole.RegistryProxy, settings);
        await using var proxyB = await WaveTestHost.StartAsync(WaveRole.RegistryProxy, settings);
        settings["services:registry-proxy:http:0"] = proxyA.BaseAddress.ToString();
        await using var api = await WaveTestHost.StartAsync(WaveRole.Api, settings);
        await ListeningAsync(proxyA);
        await ListeningAsync(proxyB);

        var answer = await api.Client.PostContainerAsync(new { containerImage = registries.Images.DockerV2, containerConfig = new { layers = new[] { Layer.AsDataLayer() } } });
        Assert.True(answer.Status == 200, answer.Text);
        var pulled = await proxyB.PullManifestAsync(answer.TargetImage);
        Assert.True(pulled.Status == 200, pulled.Body);
        Assert.Equal(200, (await proxyA.PullManifestAsync(answer.TargetImage)).Status);

        // Proof that B now answers from its own cache: with the request taken out of Redis behind Wave's back (no
        // notice), B still serves the token. The request is put back before the real revocation.
        await using (var raw = await RedisClients.RawAsync(redis.ConnectionString))
        {
            var key = $"{prefix}request:{answer.Token}";
            var saved = (byte[]?)await raw.GetDatabase().StringGetAsync(key);
            var ttl = await raw.GetDatabase().KeyTimeToLiveAsync(key);
            Assert.NotNull(saved);
            Assert.NotNull(ttl);
            Assert.True(await raw.GetDatabase().KeyDeleteAsync(key));
            var cached = await proxyB.PullManifestAsync(answer.TargetImage);
            Assert.True(cached.Status == 200, $"proxy B did not serve the token from its cache: {cached.Status} {cached.Body}");
            Assert.True(await raw.GetDatabase().StringSetAsync(key, saved, ttl!.Value));
        }

        var (revoked, _) = await api.RevokeAsync(answer.Token);
        Assert.True(revoked.Status == 200, revoked.Text);
        var sinceRevoked = Stopwatch.StartNew();

        // The very next pull through B is refused; a retry is allowed only while the notice may still be on its way.
        var attempts = 0;
        (int Status, string Body, string? Digest) next;
        while (true)
        {
            attempts++;
            next = await proxyB.PullManifestAsync(answer.TargetImage);
            if (next.Status != 200 || sinceRevoked.Elapsed > NotificationBound)
            {
                break;
            }
            await Task.Delay(20, Token);
        }
        var elapsed = sinceRevoked.Elapsed;
        Assert.True(next.Status == 404, $"proxy B still served the revoked token {elapsed.TotalMilliseconds:0} ms after the revocation ({attempts} pulls): {next.Status} {next.Body}");
        Assert.Equal("NAME_UNKNOWN", Code(next.Body));
        Assert.True(elapsed < NotificationBound, $"the revocation took {elapsed.TotalMilliseconds:0} ms to reach proxy B");
        TestContext.Current.TestOutputHelper?.WriteLine($"proxy B refused the revoked token {elapsed.TotalMilliseconds:0} ms after the revocation answered, at pull {attempts}");

        var throughA = await proxyA.PullManifestAsync(answer.TargetImage);
        Assert.Equal(404, throughA.Status);
        var described = await api.GetAsync($"/container-token/{answer.Token}");
        Assert.True(described.Body!["request"]!["revoked"]!.GetValue<bool>());
    }

    [Fact]
    public async Task A_proxy_serves_nothing_from_its_cache_while_its_subscription_is_down_nor_what_it_cached_before_it_resubscribed()
    {
        var registries = await registryFixture.GetAsync();
        await using var redis = await RedisServer.StartAsync();
        var settings = Settings(registries, redis.ConnectionString);
        var prefix = settings[StateExtensions.KeyPrefixKey]!;
        await using var proxy = await WaveTestHost.StartAsync(WaveRole.RegistryProxy, settings);
        settings["services:registry-proxy:http:0"] = proxy.BaseAddress.ToString();
        await using var api = await WaveTestHost.StartAsync(WaveRole.Api, settings);
        var cache = proxy.Services.GetRequiredService<ContainerRequestCache>();
        var firstEpoch = await ListeningAsync(proxy);
        var request = new { containerImage = registries.Images.DockerV2, containerConfig = new { layers = new[] { Layer.AsDataLayer() } } };
        await using var raw = await RedisClients.RawAsync(redis.ConnectionString);

        // 1. The subscriber's connection drops (Redis itself stays up) and comes back: a notice published in between
        // would have been missed, so what was cached before is not served after.
        var before = await api.Client.PostContainerAsync(request);
        Assert.True(before.Status == 200, before.Text);
        Assert.Equal(200, (await proxy.PullManifestAsync(before.TargetImage)).Status);
        Assert.True((long)await raw.ExecuteAsync("CLIENT", "KILL", "TYPE", "pubsub") >= 1);
        var clock = Stopwatch.StartNew();
        while (cache.SubscriptionEpoch is var epoch && (epoch == 0 || epoch == firstEpoch))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "the proxy did not subscribe again");
            await Task.Delay(10, Token);
        }
        Assert.True(await raw.GetDatabase().KeyDeleteAsync($"{prefix}request:{before.Token}")); // gone without a notice
        var afterResubscription = await proxy.PullManifestAsync(before.TargetImage);
        Assert.True(afterResubscription.Status == 404, $"served from a cache entry older than the subscription: {afterResubscription.Status} {afterResubscription.Body}");

        // 2. Redis goes away: the subscription is down, and a cached token is not served from the cache (the store is
        // asked, which answers 503) rather than possibly after its revocation.
        var cachedToken = await api.Client.PostContainerAsync(request);
        Assert.True(cachedToken.Status == 200, cachedToken.Text);
        Assert.Equal(200, (await proxy.PullManifestAsync(cachedToken.TargetImage)).Status);
        await redis.KillAsync();
        clock.Restart();
        while (cache.IsListening)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), "the proxy did not notice that its subscription was lost");
            await Task.Delay(10, Token);
        }
        var whileDown = await proxy.PullManifestAsync(cachedToken.TargetImage);
        Assert.True(whileDown.Status == 503, $"{whileDown.Status} {whileDown.Body}");
        Assert.Equal("UNAVAILABLE", Code(whileDown.Body));

        // 3. Redis is back (empty): the proxy subscribes again by itself and serves new tokens, from its cache too.
        await redis.StartAgainAsync();
        await ListeningAsync(proxy);
        ApiAnswer after;
        clock.Restart();
        do
        {
            after = await api.Client.PostContainerAsync(request);
            if (after.Status != 200)
            {
                await Task.Delay(100, Token);
            }
        }
        while (after.Status != 200 && clock.Elapsed < TimeSpan.FromSeconds(10));
        Assert.True(after.Status == 200, after.Text);
        Assert.Equal(200, (await proxy.PullManifestAsync(after.TargetImage)).Status);
        Assert.True(await raw.GetDatabase().KeyDeleteAsync($"{prefix}request:{after.Token}"));
        Assert.Equal(200, (await proxy.PullManifestAsync(after.TargetImage)).Status); // cached under the current subscription
        Assert.Equal(404, (await proxy.PullManifestAsync(cachedToken.TargetImage)).Status);
    }
}
