using System.Net.Http.Json;
using System.Text.Json.Nodes;

using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Redis;

namespace Wave.Tests.ServiceDefaults;

/// <summary>
/// The services' logging defaults (their appsettings.json) in the Development environment, which is what
/// <c>dotnet run</c> gives: the console says what a person needs (start-up, warnings, errors), not a handful of lines
/// per request. Requests are in the traces and metrics (see the telemetry tests). The Api and the registry proxy run
/// as their own processes, reading the appsettings.json their build wrote, on a shared Redis.
/// </summary>
public sealed class LoggingDefaultsTests(RegistryFixture registryFixture, RedisFixture redisFixture)
{
    private const int Requests = 10;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static readonly TestLayer Layer = TestLayer.Create(new Dictionary<string, string> { ["wave/logged.txt"] = "quiet" });

    [Fact]
    public async Task Requests_and_pulls_write_no_console_line_each_in_development()
    {
        var registries = await registryFixture.GetAsync();
        var redis = await redisFixture.GetAsync();
        var environment = new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["ConnectionStrings__redis"] = redis.ConnectionString,
            ["Wave__State__KeyPrefix"] = $"logging-{Guid.NewGuid():N}:",
            ["Wave__RateLimits__Enabled"] = "false",
        };
        foreach (var (key, value) in WaveFixture.RegistrySettings(registries))
        {
            environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        var proxyPort = FreePort.Next();
        await using var proxy = Start("Wave.RegistryProxy", proxyPort, environment);
        await FreePort.WaitListeningAsync(proxyPort, TimeSpan.FromSeconds(60), () => proxy.Output);
        environment["services__registry-proxy__http__0"] = $"http://127.0.0.1:{proxyPort}";
        var apiPort = FreePort.Next();
        await using var api = Start("Wave.Api", apiPort, environment);
        await FreePort.WaitListeningAsync(apiPort, TimeSpan.FromSeconds(60), () => api.Output);
        using var http = new HttpClient();

        // One request and pull first: whatever is logged once (a first connection, a cache created) is not per request.
        await RequestAndPullAsync(http, apiPort, proxyPort, registries.Images.BasicPrivate);
        await Task.Delay(500, Token);
        var (apiBefore, proxyBefore) = (Lines(api), Lines(proxy));
        for (var i = 0; i < Requests; i++)
        {
            await RequestAndPullAsync(http, apiPort, proxyPort, registries.Images.BasicPrivate);
        }
        await Task.Delay(500, Token);
        var apiLines = Lines(api).Skip(apiBefore.Count).ToList();
        var proxyLines = Lines(proxy).Skip(proxyBefore.Count).ToList();

        // Not a line per request or pull: at most a couple, whatever the number of requests.
        Assert.True(apiLines.Count <= 2, $"the Api wrote {apiLines.Count} lines for {Requests} requests:\n{string.Join('\n', apiLines.Take(40))}");
        Assert.True(proxyLines.Count <= 2, $"the proxy wrote {proxyLines.Count} lines for {Requests} pulls:\n{string.Join('\n', proxyLines.Take(40))}");
        // The start-up still says where each service listens.
        Assert.Contains("Now listening on", api.Output, StringComparison.Ordinal);
        Assert.Contains("Now listening on", proxy.Output, StringComparison.Ordinal);
    }

    private static async Task RequestAndPullAsync(HttpClient http, int apiPort, int proxyPort, string image)
    {
        using var posted = await http.PostAsJsonAsync($"http://127.0.0.1:{apiPort}/v1alpha2/container",
            new { containerImage = image, containerConfig = new { layers = new[] { Layer.AsDataLayer() } } }, Token);
        var text = await posted.Content.ReadAsStringAsync(Token);
        Assert.True(posted.IsSuccessStatusCode, text);
        var target = JsonNode.Parse(text)!["targetImage"]!.GetValue<string>();
        var path = target[(target.IndexOf('/') + 1)..];
        var colon = path.LastIndexOf(':');
        using var get = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{proxyPort}/v2/{path[..colon]}/manifests/{path[(colon + 1)..]}");
        get.Headers.Accept.ParseAdd("application/vnd.docker.distribution.manifest.v2+json");
        get.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json");
        using var manifest = await http.SendAsync(get, Token);
        var manifestText = await manifest.Content.ReadAsStringAsync(Token);
        Assert.True(manifest.IsSuccessStatusCode, manifestText);
        var layer = JsonNode.Parse(manifestText)!["layers"]!.AsArray()[0]!["digest"]!.GetValue<string>();
        using var blob = await http.GetAsync($"http://127.0.0.1:{proxyPort}/v2/{path[..colon]}/blobs/{layer}", Token);
        Assert.True(blob.IsSuccessStatusCode, $"{blob.StatusCode}");
        await blob.Content.ReadAsByteArrayAsync(Token);
    }

    /// <summary>The console's log entries (the simple console formatter starts each with "level: category").</summary>
    private static List<string> Lines(TestProcess process) =>
        [.. process.Output.Split('\n').Where(line => line.Length > 0 && !char.IsWhiteSpace(line[0]))];

    private static TestProcess Start(string assemblyName, int port, Dictionary<string, string?> environment)
    {
        var assembly = Path.Combine(AppContext.BaseDirectory, assemblyName + ".dll");
        var own = new Dictionary<string, string?>(environment)
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["Wave__DataDirectory"] = Directory.CreateTempSubdirectory("wave-logging-").FullName,
        };
        return TestProcess.Start("dotnet", [assembly], own, AppContext.BaseDirectory);
    }
}
