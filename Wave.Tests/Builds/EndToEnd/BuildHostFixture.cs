using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;

[assembly: AssemblyFixture(typeof(Wave.Tests.Builds.EndToEnd.BuildHostFixture))]

namespace Wave.Tests.Builds.EndToEnd;

/// <summary>
/// One embedded Wave host that builds: its builder runs buildah locally, pushes to the plain test registry (the
/// default build repository <c>&lt;plain&gt;/wave/builds</c>) and keeps its records in its own SQLite file.
/// </summary>
public sealed class BuildHostFixture : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly string _work = Path.Combine(Path.GetTempPath(), "wave-build-host-" + Guid.NewGuid().ToString("N")[..8]);
    private Task<WaveTestHost>? _host;

    public Task<WaveTestHost> GetAsync(TestRegistries registries)
    {
        lock (_gate)
        {
            return _host ??= WaveTestHost.StartAsync(WaveRole.Embedded, Settings(registries, _work));
        }
    }

    public static Dictionary<string, string?> Settings(TestRegistries registries, string work)
    {
        Requirements.Binary("buildah", "buildah");
        var settings = WaveFixture.RegistrySettings(registries);
        settings["Wave:Build:DefaultBuildRepository"] = $"{registries.Plain.Host}/wave/builds";
        settings["Wave:Build:Local:WorkDirectory"] = work;
        settings["Wave:Build:Concurrency"] = "2";
        settings["Wave:DataDirectory"] = Path.Combine(work, "data");
        return settings;
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is { IsCompletedSuccessfully: true })
        {
            await _host.Result.DisposeAsync();
        }
        if (Directory.Exists(_work))
        {
            // buildah's vfs storage holds root-owned read-only trees; buildah itself removes them best.
            try
            {
                foreach (var store in Directory.Exists(Path.Combine(_work, "storage")) ? Directory.GetDirectories(Path.Combine(_work, "storage")) : [])
                {
                    // One store per platform (Wave.Builder/Local/LocalBuildOptions.StoreKey).
                    var key = Path.GetFileName(store);
                    await TestProcess.RunAsync("buildah", ["--root", store, "--runroot", Path.Combine(_work, "run", key), "--storage-driver", "vfs", "rmi", "--all", "--force"], TimeSpan.FromMinutes(2));
                }
            }
            catch (Exception)
            {
            }
            try
            {
                Directory.Delete(_work, recursive: true);
            }
            catch (Exception)
            {
            }
        }
    }
}

/// <summary>Calls of the builds API the tests share.</summary>
public static class BuildApi
{
    public static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    /// <summary>A comment that makes a recipe (and so its container id) unique to one test run.</summary>
    public static string Nonce() => $"# test {Guid.NewGuid():N}\n";

    /// <summary>Requests a Dockerfile build pushed to <paramref name="buildRepository"/>; asserts it is accepted and returns the answer and its build id.</summary>
    public static async Task<(ApiAnswer Answer, string BuildId)> SubmitDockerfileAsync(this HttpClient client, string dockerfile, string buildRepository, bool freeze = false)
    {
        var answer = await client.PostContainerAsync(new { containerFile = Base64(dockerfile), buildRepository, freeze });
        Assert.True(answer.Status == 200, answer.Text);
        return (answer, answer.Body!["buildId"]!.GetValue<string>());
    }

    public static async Task<JsonNode> StatusAsync(this HttpClient client, string buildId)
    {
        using var response = await client.GetAsync($"/v1alpha1/builds/{buildId}/status", TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"status of {buildId}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    public static async Task<JsonNode> RecordAsync(this HttpClient client, string buildId) =>
        (await client.GetFromJsonAsync<JsonNode>($"/v1alpha1/builds/{buildId}", TestContext.Current.CancellationToken))!;

    public static async Task<string> LogsAsync(this HttpClient client, string buildId) =>
        await client.GetStringAsync($"/v1alpha1/builds/{buildId}/logs", TestContext.Current.CancellationToken);

    /// <summary>Polls the status until COMPLETED (bounded), and returns it.</summary>
    public static async Task<JsonNode> WaitCompletedAsync(this HttpClient client, string buildId, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromMinutes(6));
        while (true)
        {
            var status = await client.StatusAsync(buildId);
            if (status["status"]!.GetValue<string>() == "COMPLETED")
            {
                return status;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"build {buildId} did not complete in time: {status.ToJsonString()}\n{await client.LogsAsync(buildId)}");
            }
            await Task.Delay(500, TestContext.Current.CancellationToken);
        }
    }
}
