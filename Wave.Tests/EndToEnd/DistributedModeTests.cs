using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Redis;

namespace Wave.Tests.EndToEnd;

/// <summary>
/// The distributed topology: the Api and the registry proxy as separate hosts that share nothing but a real Redis.
/// A token issued by the Api is pulled through the proxy by docker.
/// </summary>
public sealed class DistributedModeTests(RegistryFixture registryFixture, RedisFixture redisFixture, DockerEngineFixture dockerFixture)
{
    private static readonly TestLayer Layer = TestLayer.Create(new Dictionary<string, string> { ["wave/distributed.txt"] = "served by the proxy host" });

    [Fact]
    public async Task A_token_from_the_api_host_is_pulled_through_the_proxy_host()
    {
        var registries = await registryFixture.GetAsync();
        var redis = await redisFixture.GetAsync();
        var settings = WaveFixture.RegistrySettings(registries);
        settings["ConnectionStrings:redis"] = redis.ConnectionString;

        await using var proxy = await WaveTestHost.StartAsync(WaveRole.RegistryProxy, settings);
        settings["services:registry-proxy:http:0"] = proxy.BaseAddress.ToString();
        await using var api = await WaveTestHost.StartAsync(WaveRole.Api, settings);

        var answer = await api.Client.PostContainerAsync(new
        {
            containerImage = registries.Images.BasicPrivate,
            containerConfig = new { cmd = new[] { "cat", "/wave/distributed.txt" }, layers = new[] { Layer.AsDataLayer() } },
        });
        Assert.True(answer.Status == 200, answer.Text);
        Assert.StartsWith($"{proxy.Host}/wt/", answer.TargetImage, StringComparison.Ordinal);

        // The Api host does not serve /v2/: the name only works through the proxy.
        using var notHere = await api.Client.GetAsync("/v2/", TestContext.Current.CancellationToken);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, notHere.StatusCode);

        var docker = await dockerFixture.GetAsync();
        var output = await docker.RunAsync("run", "--rm", "--network", "none", answer.TargetImage);
        Assert.Equal("served by the proxy host", output.Trim());

        // A second proxy instance, started after the first computed the manifest, serves the same digest from Redis.
        await using var secondProxy = await WaveTestHost.StartAsync(WaveRole.RegistryProxy, settings);
        var path = answer.TargetImage[(answer.TargetImage.IndexOf('/') + 1)..];
        var repository = path[..path.LastIndexOf(':')];
        var tag = path[(path.LastIndexOf(':') + 1)..];
        var first = await ManifestDigestAsync(proxy, repository, tag);
        var second = await ManifestDigestAsync(secondProxy, repository, tag);
        Assert.Equal(first, second);
    }

    private static async Task<string> ManifestDigestAsync(WaveTestHost host, string repository, string tag)
    {
        var request = new HttpRequestMessage(HttpMethod.Head, $"/v2/{repository}/manifests/{tag}");
        request.Headers.Accept.ParseAdd("application/vnd.docker.distribution.manifest.v2+json");
        using var response = await host.Client.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"{response.StatusCode}");
        return response.Headers.GetValues("Docker-Content-Digest").Single();
    }
}
