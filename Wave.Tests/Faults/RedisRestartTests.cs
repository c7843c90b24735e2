using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;

using Microsoft.Extensions.DependencyInjection;

using Wave.RegistryProxy.Content;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Redis;

namespace Wave.Tests.Faults;

/// <summary>
/// Redis goes away under a distributed Api + registry proxy: requests fail fast with 503 (never a hang, never a
/// 500), and work again once Redis is back, without restarting Wave.
/// </summary>
public sealed class RedisRestartTests(RegistryFixture registryFixture)
{
    private static readonly TestLayer Layer = TestLayer.Create(new Dictionary<string, string> { ["wave/redis.txt"] = "survives redis" });
    private static readonly TimeSpan FailFast = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task While_redis_is_down_requests_fail_fast_with_503_and_recover_after_it_restarts()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var registries = await registryFixture.GetAsync();
        await using var redis = await RedisServer.StartAsync();
        var settings = WaveFixture.RegistrySettings(registries);
        settings["ConnectionStrings:redis"] = redis.ConnectionString;
        await using var proxy = await WaveTestHost.StartAsync(WaveRole.RegistryProxy, settings);
        settings["services:registry-proxy:http:0"] = proxy.BaseAddress.ToString();
        await using var api = await WaveTestHost.StartAsync(WaveRole.Api, settings);
        var request = new { containerImage = registries.Images.DockerV2, containerConfig = new { layers = new[] { Layer.AsDataLayer() } } };

        var before = await api.Client.PostContainerAsync(request);
        Assert.True(before.Status == 200, before.Text);
        Assert.Equal(HttpStatusCode.OK, await ManifestStatusAsync(proxy, before.TargetImage));
        await redis.KillAsync();

        var clock = Stopwatch.StartNew();
        var refused = await api.Client.PostContainerAsync(request);
        Assert.True(clock.Elapsed < FailFast, $"the Api took {clock.Elapsed} to answer without Redis");
        Assert.True(refused.Status == 503, $"{refused.Status}: {refused.Text}");
        Assert.False(string.IsNullOrWhiteSpace(refused.Message));

        // A token the proxy has not seen yet must be looked up in Redis.
        var unknown = before.TargetImage.Replace(before.Token, "0123456789abcdef01234567", StringComparison.Ordinal);
        clock.Restart();
        var (status, text) = await ManifestAsync(proxy, unknown);
        Assert.True(clock.Elapsed < FailFast, $"the proxy took {clock.Elapsed} to answer without Redis");
        Assert.True(status == HttpStatusCode.ServiceUnavailable, $"{status}: {text}");
        Assert.Equal("UNAVAILABLE", JsonNode.Parse(text)!["errors"]![0]!["code"]!.GetValue<string>());
        await redis.StartAgainAsync();

        // Redis came back empty: new requests work with the same Wave processes, after a reconnect at most.
        ApiAnswer after;
        var deadline = Stopwatch.StartNew();
        do
        {
            after = await api.Client.PostContainerAsync(request);
            if (after.Status == 200)
            {
                break;
            }
            await Task.Delay(200, cancellationToken);
        }
        while (deadline.Elapsed < TimeSpan.FromSeconds(10));
        Assert.True(after.Status == 200, $"{after.Status}: {after.Text}");
        // Each process reconnects on its own schedule (250 ms backing off to 2 s): the proxy may still be waiting
        // for its next attempt when the Api's connection is back.
        (HttpStatusCode Status, string Text) pulled;
        deadline.Restart();
        while ((pulled = await ManifestAsync(proxy, after.TargetImage)).Status != HttpStatusCode.OK && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(200, cancellationToken);
        }
        Assert.True(pulled.Status == HttpStatusCode.OK, $"{pulled.Status}: {pulled.Text}");
    }

    [Fact]
    public async Task With_an_acl_user_and_a_password_requests_pulls_and_revocations_work_across_api_and_proxy()
    {
        var registries = await registryFixture.GetAsync();
        // Wave's login may touch only Wave's keys and channels, and the default user cannot log in at all.
        await using var redis = await RedisServer.StartAsync(user: new RedisAclUser("wave", "acl-pw-e2e-31", ["~wave:*", "&wave:*", "+@all"]));
        var settings = Records.RecordsTestSupport.Settings(registries, new() { ["ConnectionStrings:redis"] = redis.ConnectionString });
        await using var proxy = await WaveTestHost.StartAsync(WaveRole.RegistryProxy, settings);
        settings["services:registry-proxy:http:0"] = proxy.BaseAddress.ToString();
        await using var api = await WaveTestHost.StartAsync(WaveRole.Api, settings);
        await proxy.Services.GetRequiredService<ContainerRequestCache>().WaitUntilListeningAsync(TestContext.Current.CancellationToken)
            .WaitAsync(TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);
        var request = new { containerImage = registries.Images.DockerV2, containerConfig = new { layers = new[] { Layer.AsDataLayer() } } };

        var answer = await api.Client.PostContainerAsync(request);
        Assert.True(answer.Status == 200, answer.Text);
        Assert.Equal(HttpStatusCode.OK, await ManifestStatusAsync(proxy, answer.TargetImage));
        var (revoked, _) = await Records.RecordsTestSupport.RevokeAsync(api, answer.Token);
        Assert.True(revoked.Status == 200, revoked.Text);
        var clock = Stopwatch.StartNew();
        HttpStatusCode after;
        while ((after = await ManifestStatusAsync(proxy, answer.TargetImage)) == HttpStatusCode.OK && clock.Elapsed < TimeSpan.FromSeconds(1))
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
        Assert.Equal(HttpStatusCode.NotFound, after); // the revocation arrived over the ACL user's subscription
        using var health = await proxy.Client.GetAsync("/health", TestContext.Current.CancellationToken);
        var body = await health.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(health.IsSuccessStatusCode, body);
        Assert.DoesNotContain("acl-pw-e2e-31", body);
    }

    private static async Task<HttpStatusCode> ManifestStatusAsync(WaveTestHost proxy, string targetImage) => (await ManifestAsync(proxy, targetImage)).Status;

    internal static async Task<(HttpStatusCode Status, string Text)> ManifestAsync(WaveTestHost proxy, string targetImage)
    {
        var path = targetImage[(targetImage.IndexOf('/') + 1)..];
        var colon = path.LastIndexOf(':');
        using var message = new HttpRequestMessage(HttpMethod.Get, $"/v2/{path[..colon]}/manifests/{path[(colon + 1)..]}");
        message.Headers.Accept.ParseAdd("application/vnd.docker.distribution.manifest.v2+json");
        message.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json");
        using var response = await proxy.Client.SendAsync(message, TestContext.Current.CancellationToken);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }
}
