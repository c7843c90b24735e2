using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

using Wave.Tests.Infrastructure;

namespace Wave.Bench;

/// <summary>
/// Builds through Wave (embedded mode, its local buildah backend) against buildah run directly with the same storage
/// options (vfs, chroot isolation, a private storage root): request-to-completed time of a one-RUN Dockerfile on a
/// busybox base from the bench registry, and 50 identical concurrent requests, which must make exactly one build.
/// </summary>
public sealed class BuildBench(RegistryServer registry, string waveApiDll, string work, Report report)
{
    private const int Rounds = 3;
    private const int Concurrent = 50;

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    public async Task RunAsync()
    {
        var baseImage = await BenchImages.PushBusyboxAsync(registry, "bench/busybox", "v1");
        var buildWork = Path.Combine(work, "build");
        await using var wave = await WaveProcess.StartEmbeddedAsync(waveApiDll,
            $"--Wave:Build:DefaultBuildRepository={registry.Host}/wave/builds",
            $"--Wave:Build:Local:WorkDirectory={Path.Combine(buildWork, "wave")}",
            $"--Wave:DataDirectory={Path.Combine(buildWork, "data")}",
            "--Wave:Build:Concurrency=2",
            "--Wave:Security:AllowedNetworks:0=127.0.0.0/8");
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 128 }) { BaseAddress = wave.BaseAddress, Timeout = TimeSpan.FromMinutes(10) };
        var direct = new DirectBuildah(Path.Combine(buildWork, "direct"));

        string Dockerfile() => $"FROM {baseImage}\nRUN echo bench-{Guid.NewGuid():N} > /bench.txt\n";

        // One of each first: both storages then hold the base image, as a builder that has built before does.
        await direct.BuildAndPushAsync(Dockerfile(), $"{registry.Host}/bench/direct:warm");
        await WaveBuildAsync(http, Dockerfile());

        var directTimes = new List<double>();
        var waveTimes = new List<double>();
        var buildTimes = new List<double>();
        for (var i = 0; i < Rounds; i++)
        {
            var clock = Stopwatch.StartNew();
            await direct.BuildAndPushAsync(Dockerfile(), $"{registry.Host}/bench/direct:r{i}");
            directTimes.Add(clock.Elapsed.TotalSeconds);
            var (requestToCompleted, recorded) = await WaveBuildAsync(http, Dockerfile());
            waveTimes.Add(requestToCompleted);
            buildTimes.Add(recorded);
        }
        var directMedian = Report.Median(directTimes);
        var waveMedian = Report.Median(waveTimes);
        report.Row("build, FROM busybox + one RUN: request to completed (median of 3; buildah bud + push direct)",
            $"{directMedian:0.00} s", $"{waveMedian:0.00} s (build itself {Report.Median(buildTimes):0.00} s)", $"{waveMedian / directMedian:0.00}× time");

        // 50 identical requests at once: one build, and every requester's pull waits for it.
        var dockerfile = Dockerfile();
        var body = new JsonObject
        {
            ["containerFile"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(dockerfile)),
            ["buildRepository"] = $"{registry.Host}/bench/concurrent",
        }.ToJsonString();
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var requests = Enumerable.Range(0, Concurrent).Select(_ => Task.Run(async () =>
        {
            await start.Task;
            var clock = Stopwatch.StartNew();
            var answer = await PostAsync(http, body);
            var target = answer["targetImage"]!.GetValue<string>();
            await GetManifestAsync(http, target);
            return (BuildId: answer["buildId"]!.GetValue<string>(), Cached: answer["cached"]?.GetValue<bool>() ?? false, Waited: clock.Elapsed.TotalSeconds);
        })).ToList();
        var all = Stopwatch.StartNew();
        start.SetResult();
        var results = await Task.WhenAll(requests);
        var wall = all.Elapsed.TotalSeconds;
        var buildIds = results.Select(r => r.BuildId).Distinct(StringComparer.Ordinal).ToList();
        var record = JsonNode.Parse(await http.GetStringAsync($"v1alpha1/builds/{buildIds[0]}"))!;
        var buildSeconds = BuildSeconds(record);
        var waits = results.Select(r => r.Waited).Order().ToList();
        var exactlyOne = buildIds.Count == 1 && record["attempt"]!.GetValue<int>() == 1 && record["succeeded"]?.GetValue<bool>() == true;
        Console.WriteLine($"  {Concurrent} identical requests: build ids {string.Join(", ", buildIds)}; exactly one build: {(exactlyOne ? "yes" : "NO")}");
        if (!exactlyOne)
        {
            throw new InvalidOperationException($"{Concurrent} identical build requests made {buildIds.Count} builds: {string.Join(", ", buildIds)}; record {record.ToJsonString()}");
        }
        report.Row($"build, {Concurrent} identical concurrent requests, each then pulls the image",
            "–",
            $"{buildIds.Count} build ✅ ({buildSeconds:0.00} s); pulls answered after p50 {waits[waits.Count / 2]:0.00} s, max {waits[^1]:0.00} s (all in {wall:0.00} s)",
            $"{waits[waits.Count / 2] / buildSeconds:0.00}× / {waits[^1] / buildSeconds:0.00}× the build (p50 / max wait)");
    }

    private static double BuildSeconds(JsonNode record)
    {
        // The record's duration is what the backend measured: bud + push, without queueing and bookkeeping.
        var duration = record["duration"];
        return duration is null ? double.NaN : duration.GetValueKind() == System.Text.Json.JsonValueKind.Number
            ? duration.GetValue<double>()
            : TimeSpan.Parse(duration.GetValue<string>(), CultureInfo.InvariantCulture).TotalSeconds;
    }

    private static async Task<(double RequestToCompleted, double Build)> WaveBuildAsync(HttpClient http, string dockerfile)
    {
        var body = new JsonObject { ["containerFile"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(dockerfile)) }.ToJsonString();
        var clock = Stopwatch.StartNew();
        var buildId = (await PostAsync(http, body))["buildId"]!.GetValue<string>();
        while (true)
        {
            var status = JsonNode.Parse(await http.GetStringAsync($"v1alpha1/builds/{buildId}/status"))!;
            if (status["status"]!.GetValue<string>() == "COMPLETED")
            {
                var elapsed = clock.Elapsed.TotalSeconds;
                if (status["succeeded"]?.GetValue<bool>() != true)
                {
                    throw new InvalidOperationException($"build {buildId} failed:\n{await http.GetStringAsync($"v1alpha1/builds/{buildId}/logs")}");
                }
                return (elapsed, status["duration"]?.GetValue<double>() ?? double.NaN);
            }
            await Task.Delay(PollInterval);
        }
    }

    private static async Task<JsonNode> PostAsync(HttpClient http, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("v1alpha2/container", content);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /v1alpha2/container: {(int)response.StatusCode} {text}");
        }
        return JsonNode.Parse(text)!;
    }

    /// <summary>GET of the image's manifest through Wave's registry: answered once the build completed.</summary>
    private static async Task GetManifestAsync(HttpClient http, string image)
    {
        var slash = image.IndexOf('/', StringComparison.Ordinal);
        var colon = image.LastIndexOf(':');
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{image[..slash]}/v2/{image[(slash + 1)..colon]}/manifests/{image[(colon + 1)..]}");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(BenchImages.ManifestType));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.oci.image.manifest.v1+json"));
        using var response = await http.SendAsync(request);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"GET {request.RequestUri}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    /// <summary>buildah as Wave's local backend runs it: vfs storage in a private root, chroot isolation, docker format.</summary>
    private sealed class DirectBuildah(string directory)
    {
        private readonly string _buildah = Requirements.Binary("buildah", "buildah");

        public async Task BuildAndPushAsync(string dockerfile, string target)
        {
            var context = Path.Combine(directory, "context-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.CreateDirectory(context);
            Directory.CreateDirectory(Path.Combine(directory, "tmp"));
            await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"), dockerfile);
            var environment = new Dictionary<string, string?>
            {
                ["STORAGE_DRIVER"] = "vfs",
                ["BUILDAH_ISOLATION"] = "chroot",
                ["TMPDIR"] = Path.Combine(directory, "tmp"),
            };
            string[] global = ["--root", Path.Combine(directory, "root"), "--runroot", Path.Combine(directory, "run"), "--storage-driver", "vfs"];
            var local = "localhost/bench-direct:" + Guid.NewGuid().ToString("N")[..12];
            await TestProcess.RunAsync(_buildah, [.. global, "bud", "--isolation", "chroot", "--format", "docker", "--layers", "--tls-verify=false",
                "-t", local, "-f", Path.Combine(context, "Dockerfile"), context], TimeSpan.FromMinutes(5), environment);
            await TestProcess.RunAsync(_buildah, [.. global, "push", "--tls-verify=false", local, "docker://" + target], TimeSpan.FromMinutes(5), environment);
        }
    }
}
