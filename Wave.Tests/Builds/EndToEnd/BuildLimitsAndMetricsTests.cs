using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

using Wave.Core.Security;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Builds.EndToEnd;

/// <summary>Builds count against the build limits and in the build metrics; a cached answer counts for neither.</summary>
public sealed class BuildLimitsAndMetricsTests(RegistryFixture registryFixture)
{
    [Fact]
    public async Task The_anonymous_build_limit_refuses_the_third_build_and_metrics_count_the_two_by_arch()
    {
        var registries = await registryFixture.GetAsync();
        var work = Path.Combine(Path.GetTempPath(), "wave-build-limits-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = BuildHostFixture.Settings(registries, work);
        settings["Wave:RateLimits:AnonymousBuilds:Limit"] = "2";
        settings["Wave:RateLimits:AnonymousBuilds:Window"] = "1.00:00:00";
        settings["Wave:Metrics:Accounts:0:UserName"] = "metrics";
        settings["Wave:Metrics:Accounts:0:PasswordHash"] = PasswordHash.Create("metrics-pw", iterations: 1000);
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, settings);
        object Request(string platform, string nonce) => new
        {
            containerFile = BuildApi.Base64($"FROM {registries.Images.MultiArch}\n# {nonce}\nRUN echo limited > /limited.txt\n"),
            containerPlatform = platform,
        };
        var nonce = Guid.NewGuid().ToString("N");

        var first = await wave.Client.PostContainerAsync(Request("linux/amd64", nonce));
        var second = await wave.Client.PostContainerAsync(Request("linux/arm64", nonce));
        Assert.True(first.Status == 200, first.Text);
        Assert.True(second.Status == 200, second.Text);
        await wave.Client.WaitCompletedAsync(first.Body!["buildId"]!.GetValue<string>());

        using var third = await wave.Client.PostAsync("/v1alpha2/container",
            System.Net.Http.Json.JsonContent.Create(Request("linux/amd64", nonce + "-third")), TestContext.Current.CancellationToken);
        var refused = await WaveApi.ReadAsync(third);
        Assert.Equal(429, refused.Status);
        Assert.Contains("2 container builds per day for anonymous client 127.0.0.1", refused.Message, StringComparison.Ordinal);
        Assert.True(third.Headers.RetryAfter?.Delta > TimeSpan.Zero, "a 429 says when to retry");

        // A request for an image already built is answered without a build, so the limit does not stop it.
        var cached = await wave.Client.PostContainerAsync(Request("linux/amd64", nonce));
        Assert.True(cached.Status == 200, cached.Text);
        Assert.True(cached.Body!["cached"]!.GetValue<bool>());

        Assert.Equal(2, (await MetricsAsync(wave, "/v1alpha2/metrics/builds"))["count"]!.GetValue<long>());
        Assert.Equal(1, (await MetricsAsync(wave, "/v1alpha3/metrics/builds?arch=arm64"))["count"]!.GetValue<long>());
        Assert.Equal(1, (await MetricsAsync(wave, "/v1alpha3/metrics/builds?arch=amd64"))["count"]!.GetValue<long>());
        await wave.Client.WaitCompletedAsync(second.Body!["buildId"]!.GetValue<string>());
    }

    private static async Task<JsonNode> MetricsAsync(WaveTestHost wave, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("metrics:metrics-pw")));
        using var response = await wave.Client.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }
}
