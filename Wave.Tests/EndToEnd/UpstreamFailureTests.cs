using System.Net;
using System.Text.Json.Nodes;

using Wave.Tests.Infrastructure;

namespace Wave.Tests.EndToEnd;

/// <summary>An upstream registry that goes away: clear 502s naming it, never a 500 or a hang, and recovery when it returns.</summary>
public sealed class UpstreamFailureTests(RegistryFixture registryFixture, WaveFixture waveFixture)
{
    private static readonly TestLayer Layer = TestLayer.Create(new Dictionary<string, string> { ["wave/failure.txt"] = "x" });

    [Fact]
    public async Task A_stopped_upstream_gives_502_naming_it_and_pulls_recover_when_it_returns()
    {
        var registries = await registryFixture.GetAsync();
        var wave = await waveFixture.GetEmbeddedAsync(registries);
        var directory = Directory.CreateTempSubdirectory("wave-upstream-");
        await using var upstream = await RegistryServer.StartNewAsync(directory.FullName, null, null);
        try
        {
            var image = $"{upstream.Host}/flaky/busybox:v1";
            await TestProcess.RunAsync(Requirements.Binary("skopeo", "skopeo"),
                ["copy", "--src-tls-verify=false", "--dest-tls-verify=false", $"docker://{registries.Images.DockerV2}", $"docker://{image}"]);

            var answer = await wave.Client.PostContainerAsync(new { containerImage = image, containerConfig = new { layers = new[] { Layer.AsDataLayer() } } });
            Assert.True(answer.Status == 200, answer.Text);
            var path = answer.TargetImage[(answer.TargetImage.IndexOf('/') + 1)..];
            var manifestPath = $"/v2/{path[..path.LastIndexOf(':')]}/manifests/v1";

            await upstream.StopAsync();

            using (var response = await wave.Client.GetAsync(manifestPath, TestContext.Current.CancellationToken))
            {
                var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
                Assert.True(response.StatusCode == HttpStatusCode.BadGateway, $"{response.StatusCode}: {text}");
                var message = JsonNode.Parse(text)!["errors"]![0]!["message"]!.GetValue<string>();
                Assert.Contains(upstream.Host, message, StringComparison.Ordinal);
            }

            // A new request for an image on the stopped registry: 502 from the Api, naming the registry.
            var refused = await wave.Client.PostContainerAsync(new { containerImage = image });
            Assert.Equal(502, refused.Status);
            Assert.Contains(upstream.Host, refused.Message, StringComparison.Ordinal);

            await upstream.StartAsync();
            using var recovered = await wave.Client.GetAsync(manifestPath, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, recovered.StatusCode);
        }
        finally
        {
            await upstream.StopAsync();
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Credentials_never_appear_in_error_answers()
    {
        var registries = await registryFixture.GetAsync();
        var wave = await waveFixture.GetEmbeddedAsync(registries);
        var missing = await wave.Client.PostContainerAsync(new { containerImage = registries.Images.BasicPrivate.Replace(":v2", ":missing") });
        Assert.Equal(400, missing.Status);
        Assert.DoesNotContain(registries.Basic.Credentials!.Password, missing.Text, StringComparison.Ordinal);
        var bearerMissing = await wave.Client.PostContainerAsync(new { containerImage = registries.Images.BearerPrivate.Replace(":v2", ":missing") });
        Assert.Equal(400, bearerMissing.Status);
        Assert.DoesNotContain(registries.Bearer.Credentials!.Password, bearerMissing.Text, StringComparison.Ordinal);
    }
}
