using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

using Microsoft.AspNetCore.Http;

using Wave.Core.Security;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Redis;

namespace Wave.Tests.EndToEnd;

/// <summary>
/// Who asks (Seqera Platform token or API key), what their pulls count as, and the limits that stop them; each test
/// has its own Wave host so that counters start from zero.
/// </summary>
public sealed class IdentityMetricsAndLimitsTests(RegistryFixture registryFixture, DockerEngineFixture dockerFixture, RedisFixture redisFixture)
{
    private const string PlatformToken = "platform-token-of-alice";
    private const string ApiKey = "wave-api-key-of-bob";
    private const string MetricsPassword = "metrics-pw";

    private static readonly TestLayer Layer = TestLayer.Create(new Dictionary<string, string> { ["wave/identity.txt"] = "who" });

    /// <summary>A Seqera-Platform-compatible /user-info that checks the bearer token it receives.</summary>
    private static Task<ScriptedHttpServer> StartPlatformAsync() => ScriptedHttpServer.StartAsync(async context =>
    {
        if (context.Request.Path != "/api/user-info")
        {
            context.Response.StatusCode = 404;
            return;
        }
        if (context.Request.Headers.Authorization.ToString() != $"Bearer {PlatformToken}")
        {
            context.Response.StatusCode = 401;
            return;
        }
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync("""{"user":{"id":42,"userName":"alice","email":"alice@seqera.io"}}""");
    });

    private static Dictionary<string, string?> Settings(TestRegistries registries, Dictionary<string, string?>? extra = null)
    {
        var settings = WaveFixture.RegistrySettings(registries);
        settings["Wave:Identity:ApiKeys:0:KeySha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(ApiKey)));
        settings["Wave:Identity:ApiKeys:0:UserName"] = "bob";
        settings["Wave:Identity:ApiKeys:0:Email"] = "bob@example.org";
        settings["Wave:Metrics:Accounts:0:UserName"] = "metrics";
        settings["Wave:Metrics:Accounts:0:PasswordHash"] = PasswordHash.Create(MetricsPassword, iterations: 1000);
        settings["Wave:Metrics:FusionHost"] = "fusion.example.com";
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }
        return settings;
    }

    private static async Task<JsonNode> MetricsAsync(WaveTestHost wave, string path, string password = MetricsPassword)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"metrics:{password}")));
        using var response = await wave.Client.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    private static async Task PullManifestAsync(WaveTestHost wave, string targetImage)
    {
        var name = targetImage[(targetImage.IndexOf('/') + 1)..];
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/{name[..name.LastIndexOf(':')]}/manifests/{name[(name.LastIndexOf(':') + 1)..]}");
        request.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json");
        using var response = await wave.Client.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)}");
    }

    [Fact]
    public async Task Platform_users_and_api_keys_are_resolved_and_their_pulls_counted_by_org_and_arch()
    {
        var registries = await registryFixture.GetAsync();
        await using var platform = await StartPlatformAsync();
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, Settings(registries));

        var alice = await wave.Client.PostContainerAsync(new
        {
            containerImage = registries.Images.MultiArch,
            containerConfig = new { layers = new[] { Layer.AsDataLayer() } },
            towerAccessToken = PlatformToken,
            towerEndpoint = $"http://{platform.Host}/api",
        });
        Assert.True(alice.Status == 200, alice.Text);
        Assert.Contains(platform.Received, r => r.PathAndQuery == "/api/user-info" && r.Header("Authorization") == $"Bearer {PlatformToken}");

        using var bobRequest = new HttpRequestMessage(HttpMethod.Post, "/v1alpha2/container")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { containerImage = registries.Images.DockerV2, containerConfig = new { layers = new[] { Layer.AsRemoteLayer("https://fusion.example.com/layer.tar.gz") } } }),
        };
        bobRequest.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        var bob = await WaveApi.ReadAsync(await wave.Client.SendAsync(bobRequest, TestContext.Current.CancellationToken));
        Assert.True(bob.Status == 200, bob.Text);

        // Real pulls: docker pulls alice's multi-arch image (index, then the amd64 manifest: one pull); bob's is pulled twice.
        var docker = await dockerFixture.GetAsync();
        await docker.RunAsync("pull", alice.TargetImage);
        await PullManifestAsync(wave, bob.TargetImage);
        await PullManifestAsync(wave, bob.TargetImage);

        var pulls = await MetricsAsync(wave, "/v1alpha2/metrics/pulls");
        Assert.Equal("pulls", pulls["metric"]!.GetValue<string>());
        Assert.Equal(3, pulls["count"]!.GetValue<long>());
        Assert.Equal(1, pulls["orgs"]!["seqera.io"]!.GetValue<long>());
        Assert.Equal(2, pulls["orgs"]!["example.org"]!.GetValue<long>());

        var today = DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var one = await MetricsAsync(wave, $"/v1alpha2/metrics/pulls?date={today}&org=seqera.io");
        Assert.Equal("""{"count":1}""", one.ToJsonString());
        Assert.Equal(0, (await MetricsAsync(wave, "/v1alpha2/metrics/pulls?date=2001-01-01"))["count"]!.GetValue<long>());
        // Docker on this amd64 machine pulled the amd64 entry of alice's index; bob's image is amd64.
        Assert.Equal(3, (await MetricsAsync(wave, "/v1alpha3/metrics/pulls?arch=amd64"))["count"]!.GetValue<long>());
        Assert.Equal(1, (await MetricsAsync(wave, "/v1alpha3/metrics/pulls?arch=x86_64&org=seqera.io"))["count"]!.GetValue<long>());
        Assert.Equal(0, (await MetricsAsync(wave, "/v1alpha3/metrics/pulls?arch=arm64"))["count"]!.GetValue<long>());

        var fusion = await MetricsAsync(wave, "/v1alpha2/metrics/fusion/pulls");
        Assert.Equal("fusion", fusion["metric"]!.GetValue<string>());
        Assert.Equal(2, fusion["count"]!.GetValue<long>());
        Assert.Equal(0, (await MetricsAsync(wave, "/v1alpha2/metrics/builds"))["count"]!.GetValue<long>());
    }

    [Fact]
    public async Task Bad_tokens_keys_endpoints_and_metrics_credentials_are_refused_clearly()
    {
        var registries = await registryFixture.GetAsync();
        await using var platform = await StartPlatformAsync();
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, Settings(registries));

        var wrongToken = await wave.Client.PostContainerAsync(new { containerImage = registries.Images.DockerV2, towerAccessToken = "stolen", towerEndpoint = $"http://{platform.Host}/api" });
        Assert.Equal(401, wrongToken.Status);
        Assert.Equal("towerAccessToken", wrongToken.Field);
        Assert.DoesNotContain("stolen", wrongToken.Text, StringComparison.Ordinal);

        var down = FreePort.Next();
        var unreachable = await wave.Client.PostContainerAsync(new { containerImage = registries.Images.DockerV2, towerAccessToken = PlatformToken, towerEndpoint = $"http://127.0.0.1:{down}/api" });
        Assert.Equal(502, unreachable.Status);
        Assert.Contains($"127.0.0.1:{down}", unreachable.Message, StringComparison.Ordinal);

        using var badKey = new HttpRequestMessage(HttpMethod.Post, "/v1alpha2/container") { Content = System.Net.Http.Json.JsonContent.Create(new { containerImage = registries.Images.DockerV2 }) };
        badKey.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not-a-key");
        Assert.Equal(401, (await WaveApi.ReadAsync(await wave.Client.SendAsync(badKey, TestContext.Current.CancellationToken))).Status);

        using var anonymous = await wave.Client.GetAsync("/v1alpha2/metrics/pulls", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.StartsWith("Basic", anonymous.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);

        using var wrongPassword = new HttpRequestMessage(HttpMethod.Get, "/v1alpha2/metrics/builds");
        wrongPassword.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("metrics:guess")));
        Assert.Equal(HttpStatusCode.Unauthorized, (await wave.Client.SendAsync(wrongPassword, TestContext.Current.CancellationToken)).StatusCode);

        using var badDate = new HttpRequestMessage(HttpMethod.Get, "/v1alpha2/metrics/pulls?date=21-11-2026");
        badDate.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"metrics:{MetricsPassword}")));
        var answer = await WaveApi.ReadAsync(await wave.Client.SendAsync(badDate, TestContext.Current.CancellationToken));
        Assert.Equal(400, answer.Status);
        Assert.Equal("date", answer.Field);
    }

    [Fact]
    public async Task A_pull_limit_reached_through_one_proxy_holds_on_another_sharing_redis()
    {
        var registries = await registryFixture.GetAsync();
        var redis = await redisFixture.GetAsync();
        var settings = Settings(registries, new()
        {
            ["ConnectionStrings:redis"] = redis.ConnectionString,
            ["Wave:State:KeyPrefix"] = $"wave-limits-{Guid.NewGuid():N}:",
            ["Wave:RateLimits:AnonymousPulls:Limit"] = "2",
            ["Wave:RateLimits:AnonymousPulls:Window"] = "01:00:00",
        });
        await using var first = await WaveTestHost.StartAsync(WaveRole.Embedded, settings);
        await using var second = await WaveTestHost.StartAsync(WaveRole.RegistryProxy, settings);

        var answer = await first.Client.PostContainerAsync(new { containerImage = registries.Images.DockerV2, containerConfig = new { layers = new[] { Layer.AsDataLayer() } } });
        Assert.True(answer.Status == 200, answer.Text);
        await PullManifestAsync(first, answer.TargetImage);
        await PullManifestAsync(second, answer.TargetImage);

        var name = answer.TargetImage[(answer.TargetImage.IndexOf('/') + 1)..];
        using var third = await second.Client.GetAsync($"/v2/{name[..name.LastIndexOf(':')]}/manifests/v2", TestContext.Current.CancellationToken);
        var text = await third.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(third.StatusCode == HttpStatusCode.TooManyRequests, $"{third.StatusCode}: {text}");
        var error = JsonNode.Parse(text)!["errors"]![0]!;
        Assert.Equal("TOOMANYREQUESTS", error["code"]!.GetValue<string>());
        Assert.Contains("2 container pulls per hour for anonymous client 127.0.0.1", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.InRange(int.Parse(third.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture), 1, 3600);

        // Blobs of the same image still come: the limit counts pulls (manifests), not layers.
        using var blob = await first.Client.GetAsync($"/v2/{name[..name.LastIndexOf(':')]}/blobs/{Layer.GzipDigest}", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, blob.StatusCode);
    }
}
