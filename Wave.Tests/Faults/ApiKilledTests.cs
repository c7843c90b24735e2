using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;

using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Redis;

namespace Wave.Tests.Faults;

/// <summary>
/// An Api process killed (SIGKILL) while 100 container requests are in flight: every token it answered before dying
/// was stored before it was answered, so each one still pulls through the registry proxy.
/// </summary>
public sealed class ApiKilledTests(RegistryFixture registryFixture, RedisFixture redisFixture)
{
    private static readonly TestLayer Layer = TestLayer.Create(new Dictionary<string, string> { ["wave/killed.txt"] = "issued before the crash" });

    [Fact]
    public async Task Tokens_answered_before_the_api_is_killed_still_pull()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var registries = await registryFixture.GetAsync();
        var redis = await redisFixture.GetAsync();
        var settings = WaveFixture.RegistrySettings(registries);
        settings["ConnectionStrings:redis"] = redis.ConnectionString;
        await using var proxy = await WaveTestHost.StartAsync(WaveRole.RegistryProxy, settings);

        var port = FreePort.Next();
        var environment = settings.ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value);
        environment["services__registry-proxy__http__0"] = proxy.BaseAddress.ToString();
        environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        environment["Logging__LogLevel__Default"] = "Warning";
        var dotnet = Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet";
        await using var api = TestProcess.Start(dotnet, [Path.Combine(AppContext.BaseDirectory, "Wave.Api.dll")], environment, AppContext.BaseDirectory);
        await FreePort.WaitListeningAsync(port, TimeSpan.FromSeconds(30), () => api.Output);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        var request = new { containerImage = registries.Images.DockerV2, containerConfig = new { layers = new[] { Layer.AsDataLayer() } } };
        var warmUp = await client.PostContainerAsync(request);
        Assert.True(warmUp.Status == 200, warmUp.Text);

        var issued = new ConcurrentBag<ApiAnswer>();
        var failed = 0;
        var enoughAnswered = new TaskCompletionSource();
        var requests = Enumerable.Range(0, 100).Select(async _ =>
        {
            try
            {
                using var response = await client.PostAsJsonAsync("/v1alpha2/container", request, cancellationToken);
                var answer = await WaveApi.ReadAsync(response);
                Assert.True(answer.Status == 200, $"{answer.Status}: {answer.Text}");
                issued.Add(answer);
                if (issued.Count >= 10)
                {
                    enoughAnswered.TrySetResult();
                }
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref failed);
            }
        }).ToList();
        await enoughAnswered.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
        api.Kill();
        await Task.WhenAll(requests);
        await api.WaitForExitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(100, issued.Count + failed);

        foreach (var answer in issued.Append(warmUp))
        {
            var (status, text) = await RedisRestartTests.ManifestAsync(proxy, answer.TargetImage);
            Assert.True(status == HttpStatusCode.OK, $"token {answer.Token} issued before the crash: {status} {text}");
        }
        TestContext.Current.SendDiagnosticMessage($"{issued.Count} tokens answered before the kill, {failed} requests cut off");
    }
}
