using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.AppHost;

/// <summary>
/// The AppHost in distributed mode, started the way a user starts it: it brings up private Redis, Postgres and
/// RabbitMQ servers and the three services as processes; a real docker pull goes through it; SIGTERM stops every
/// process it started and keeps the data.
/// </summary>
public sealed class DistributedAppHostTests(RegistryFixture registryFixture, DockerEngineFixture dockerFixture)
{
    private static readonly string[] Resources = ["redis", "postgres", "rabbitmq", "registry-proxy", "api", "builder"];

    [Fact]
    public async Task Distributed_mode_serves_a_pull_and_stops_everything_it_started()
    {
        Requirements.Binary("redis-server", "redis-server");
        Requirements.Binary("initdb", "postgresql");
        Requirements.Binary("rabbitmq-server", "rabbitmq-server");
        var cancellation = TestContext.Current.CancellationToken;
        var registries = await registryFixture.GetAsync();
        var docker = await dockerFixture.GetAsync();

        var data = Directory.CreateTempSubdirectory("wave-apphost-").FullName;
        var port = FreePort.Next();
        var environment = new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ConnectionStrings__redis"] = null,
        };
        foreach (var (key, value) in WaveFixture.RegistrySettings(registries))
        {
            environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        await using var appHost = TestProcess.Start("dotnet",
            [AppHostProcess.Assembly, "--distributed", "--data-dir", data, "--urls", $"http://127.0.0.1:{port}"], environment);
        using var dashboard = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };

        var resources = await WaitAllRunningAsync(dashboard, appHost, cancellation);
        string Endpoint(string name) => resources.Single(r => r["name"]!.GetValue<string>() == name)["endpoint"]!.GetValue<string>();
        var started = ProcessesBelow(appHost.Id);
        foreach (var name in Resources)
        {
            var pid = resources.Single(r => r["name"]!.GetValue<string>() == name)["processId"]!.GetValue<int>();
            Assert.Contains(pid, started);
        }

        // The augmentation flow through the distributed services: the Api issues the token, the proxy serves the pull.
        using var api = new HttpClient { BaseAddress = new Uri(Endpoint("api")), Timeout = TimeSpan.FromSeconds(60) };
        var layer = TestLayer.Create(new Dictionary<string, string> { ["wave/apphost.txt"] = "distributed apphost" });
        var answer = await api.PostContainerAsync(new
        {
            containerImage = registries.Images.BasicPrivate,
            containerConfig = new { cmd = new[] { "cat", "/wave/apphost.txt" }, layers = new[] { layer.AsDataLayer() } },
        });
        Assert.True(answer.Status == 200, answer.Text + "\n" + appHost.Output);
        Assert.StartsWith(new Uri(Endpoint("registry-proxy")).Authority + "/wt/", answer.TargetImage, StringComparison.Ordinal);
        Assert.Equal("distributed apphost", (await docker.RunAsync("run", "--rm", "--network", "none", answer.TargetImage)).Trim());

        // The services send their traces to the AppHost.
        await WaitForSpansAsync(dashboard, ["api", "registry-proxy"], cancellation);

        await TestProcess.RunAsync("kill", ["-TERM", appHost.Id.ToString(CultureInfo.InvariantCulture)]);
        await appHost.WaitForExitAsync(TimeSpan.FromSeconds(60));
        var left = started.Where(IsAlive).ToList();
        Assert.True(left.Count == 0, $"still running after the AppHost stopped: {string.Join(", ", left.Select(Describe))}\n{appHost.Output}");
        Assert.Contains("Stopped everything the AppHost started", appHost.Output, StringComparison.Ordinal);

        // The data stays for the next run.
        Assert.True(File.Exists(Path.Combine(data, "postgres", "cluster", "PG_VERSION")));
        Assert.True(Directory.Exists(Path.Combine(data, "redis", "appendonlydir")));
        Assert.True(Directory.Exists(Path.Combine(data, "rabbitmq", "mnesia")));
    }

    internal static async Task<List<JsonNode>> WaitAllRunningAsync(HttpClient dashboard, TestProcess appHost, CancellationToken cancellation)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(180);
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(appHost.HasExited, "the AppHost exited:\n" + appHost.Output);
            try
            {
                var resources = (await dashboard.GetFromJsonAsync<JsonArray>("/api/resources?logLines=0", cancellation))!.Select(r => r!).ToList();
                last = string.Join(", ", resources.Select(r => $"{r["name"]}={r["state"]}/{r["health"]}"));
                if (resources.Any(r => r["state"]!.GetValue<string>() == "Failed"))
                {
                    Assert.Fail("a resource failed: " + await dashboard.GetStringAsync("/api/resources?logLines=40", cancellation) + "\n" + appHost.Output);
                }
                Assert.Equal(Resources.Order(StringComparer.Ordinal), resources.Select(r => r["name"]!.GetValue<string>()).Order(StringComparer.Ordinal));
                if (resources.All(r => r["state"]!.GetValue<string>() == "Running" && r["health"]!.GetValue<string>() == "Healthy"))
                {
                    return resources;
                }
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(250, cancellation);
        }
        throw new TimeoutException($"not every resource was running after 180 s ({last}):\n{appHost.Output}");
    }

    private static async Task WaitForSpansAsync(HttpClient dashboard, string[] services, CancellationToken cancellation)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        JsonNode? counts = null;
        while (DateTime.UtcNow < deadline)
        {
            counts = (await dashboard.GetFromJsonAsync<JsonObject>("/api/traces", cancellation))!["countsByService"];
            if (services.All(s => counts?[s]?.GetValue<long>() > 0))
            {
                return;
            }
            await Task.Delay(500, cancellation);
        }
        Assert.Fail($"no spans from {string.Join(", ", services)} reached the AppHost: {counts?.ToJsonString()}");
    }

    /// <summary>Every process below <paramref name="root"/>, read from /proc (independently of the AppHost's own code).</summary>
    private static List<int> ProcessesBelow(int root)
    {
        var parents = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var pid) && Stat(pid) is { } stat)
            {
                parents[pid] = stat.Parent;
            }
        }
        var found = new List<int>();
        var queue = new Queue<int>([root]);
        while (queue.Count > 0)
        {
            var current = queue.Dequeue();
            foreach (var child in parents.Where(p => p.Value == current).Select(p => p.Key))
            {
                found.Add(child);
                queue.Enqueue(child);
            }
        }
        return found;
    }

    private static bool IsAlive(int pid) => Stat(pid) is { State: not ('Z' or 'X') };

    private static string Describe(int pid)
    {
        try
        {
            return $"{pid} ({File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim()})";
        }
        catch (IOException)
        {
            return pid.ToString(CultureInfo.InvariantCulture);
        }
    }

    private static (char State, int Parent)? Stat(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return (fields[0][0], int.Parse(fields[1], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
