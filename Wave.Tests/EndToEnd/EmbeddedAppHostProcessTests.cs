using System.Net;
using System.Text.Json.Nodes;

using Wave.Tests.Infrastructure;

namespace Wave.Tests.EndToEnd;

/// <summary>
/// The README's run command in its embedded default: the AppHost as its own process, with no connection strings and
/// nothing else configured, serves the whole flow on one port.
/// </summary>
public sealed class EmbeddedAppHostProcessTests(RegistryFixture registryFixture, DockerEngineFixture dockerFixture)
{
    [Fact]
    public async Task The_apphost_alone_issues_tokens_and_serves_pulls()
    {
        var registries = await registryFixture.GetAsync();
        var port = FreePort.Next();
        var appHost = Path.Combine(AppContext.BaseDirectory, "Wave.AppHost.dll");
        Assert.True(File.Exists(appHost), $"{appHost} is missing: the test project references Wave.AppHost, so the build puts it there");
        await using var process = TestProcess.Start("dotnet", [appHost, "--urls", $"http://127.0.0.1:{port}"],
            new Dictionary<string, string?> { ["ASPNETCORE_ENVIRONMENT"] = "Production", ["ConnectionStrings__redis"] = null });
        await FreePort.WaitListeningAsync(port, TimeSpan.FromSeconds(60), () => process.Output);

        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health", TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/alive", TestContext.Current.CancellationToken)).StatusCode);
        var info = JsonNode.Parse(await client.GetStringAsync("/service-info", TestContext.Current.CancellationToken))!["serviceInfo"]!;
        Assert.Matches(@"^\d+\.\d+\.\d+", info["version"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(info["commitId"]!.GetValue<string>()));

        var layer = TestLayer.Create(new Dictionary<string, string> { ["wave/apphost.txt"] = "embedded mode" });
        var answer = await client.PostContainerAsync(new
        {
            containerImage = registries.Images.DockerV2,
            containerConfig = new { cmd = new[] { "cat", "/wave/apphost.txt" }, layers = new[] { layer.AsDataLayer() } },
        });
        Assert.True(answer.Status == 200, answer.Text + "\n" + process.Output);
        Assert.StartsWith($"127.0.0.1:{port}/wt/", answer.TargetImage, StringComparison.Ordinal);

        var docker = await dockerFixture.GetAsync();
        Assert.Equal("embedded mode", (await docker.RunAsync("run", "--rm", "--network", "none", answer.TargetImage)).Trim());
    }
}
