using System.Globalization;

using Wave.Tests.Infrastructure;

namespace Wave.Bench;

/// <summary>
/// Distributed mode's hot paths, each build's registry proxy and Api as their own processes (<c>dotnet Wave.X.dll</c>)
/// on a redis-server of their own: manifest GET of a cached augmented token with the proxy's request cache off
/// (<c>Wave:Proxy:RequestCacheTime=0</c>, so every GET reads the token from Redis), and POST /v1alpha2/container
/// (which writes it there). With <c>--before DIR</c> (the output folder of another build, e.g. the commit before a
/// change: <c>git worktree add /tmp/before COMMIT &amp;&amp; dotnet build -c Release /tmp/before/Wave.Api</c>; before the AppHost moved onto Aspire, the folder was Wave.AppHost's) both builds
/// run side by side and are measured in rounds, taking turns, with the registry direct in every round: the ratio of
/// this build to the other is the median of the rounds' own ratios.
/// </summary>
public sealed class DistributedBench(RegistryServer registry, BenchOptions options, Report report, string tokenBody, string work)
{
    private const int Rounds = 3;

    private sealed record Stack(string Label, TestProcess Redis, WaveProcess Proxy, WaveProcess Api, string ManifestUrl) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Api.DisposeAsync();
            await Proxy.DisposeAsync();
            await Redis.DisposeAsync();
        }
    }

    /// <summary>The folder after <c>--before</c> on the command line, when given.</summary>
    private static string? BeforeFolder()
    {
        var args = Environment.GetCommandLineArgs();
        var i = Array.IndexOf(args, "--before");
        return i >= 0 && i + 1 < args.Length ? Path.GetFullPath(args[i + 1]) : null;
    }

    public async Task RunAsync()
    {
        var builds = new List<(string Label, string Folder)> { ("this build", Path.GetDirectoryName(options.WaveApiDll)!) };
        if (BeforeFolder() is { } before)
        {
            builds.Insert(0, ("before", before));
        }
        var stacks = new List<Stack>();
        try
        {
            foreach (var (label, folder) in builds)
            {
                stacks.Add(await StartAsync(label, folder));
            }
            // Warm-up (tiered JIT, connection pools), unmeasured, as in the embedded rows.
            foreach (var stack in stacks)
            {
                await Wrk.RunAsync(stack.ManifestUrl, 64, options.Duration, Wrk.ManifestGet(), work);
                await Wrk.RunAsync(PostUrl(stack), 64, options.Duration, Wrk.JsonPost(tokenBody), work);
            }
            var direct = $"http://{registry.Host}/v2/bench/small/manifests/v1";
            var cells = new Dictionary<string, List<LoadResult>>();
            void Add(string key, LoadResult result) => (cells.TryGetValue(key, out var list) ? list : cells[key] = []).Add(result);
            for (var round = 0; round < Rounds; round++)
            {
                Add("direct", await Wrk.RunAsync(direct, 64, options.Duration, Wrk.ManifestGet(), work));
                for (var s = 0; s < stacks.Count; s++)
                {
                    var stack = stacks[(round + s) % stacks.Count];
                    foreach (var connections in new[] { 8, 64 })
                    {
                        Add($"{stack.Label} get {connections}", await Wrk.RunAsync(stack.ManifestUrl, connections, options.Duration, Wrk.ManifestGet(), work));
                        Add($"{stack.Label} post {connections}", await Wrk.RunAsync(PostUrl(stack), connections, options.Duration, Wrk.JsonPost(tokenBody), work));
                    }
                }
            }
            foreach (var stack in stacks)
            {
                foreach (var connections in new[] { 8, 64 })
                {
                    report.Load($"distributed manifest GET ({stack.Label}), {connections} conn, token read from Redis on every GET; median of {Rounds} rounds",
                        Median(cells["direct"]), Median(cells[$"{stack.Label} get {connections}"]), null);
                    report.Row($"distributed POST /v1alpha2/container ({stack.Label}), {connections} conn; median of {Rounds} rounds", "–",
                        Describe(Median(cells[$"{stack.Label} post {connections}"])), "–");
                }
            }
            if (stacks.Count == 2)
            {
                foreach (var kind in new[] { "get", "post" })
                {
                    foreach (var connections in new[] { 8, 64 })
                    {
                        var beforeRuns = cells[$"before {kind} {connections}"];
                        var afterRuns = cells[$"this build {kind} {connections}"];
                        var ratio = Report.Median([.. beforeRuns.Zip(afterRuns, (b, a) => a.RequestsPerSecond / b.RequestsPerSecond)]);
                        report.Row($"distributed {(kind == "get" ? "manifest GET (Redis-backed)" : "POST /v1alpha2/container")}, {connections} conn: this build against the one before",
                            Range(beforeRuns), Range(afterRuns),
                            string.Create(CultureInfo.InvariantCulture, $"{ratio:0.00}× req/s (median of the rounds' ratios)"));
                    }
                }
            }
        }
        finally
        {
            foreach (var stack in stacks)
            {
                await stack.DisposeAsync();
            }
        }
    }

    private static string PostUrl(Stack stack) => $"http://{stack.Api.Host}/v1alpha2/container";

    private async Task<Stack> StartAsync(string label, string folder)
    {
        var data = Directory.CreateTempSubdirectory("wave-bench-distributed-").FullName;
        var port = FreePort.Next();
        var redis = TestProcess.Start(Requirements.Binary("redis-server", "redis-server"),
            ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", data, "--daemonize", "no"]);
        await FreePort.WaitListeningAsync(port, TimeSpan.FromSeconds(20), () => redis.Output);
        string[] common = [$"--ConnectionStrings:redis=127.0.0.1:{port}", "--Wave:Security:AllowedNetworks:0=127.0.0.0/8", $"--Wave:DataDirectory={data}"];
        var proxy = await WaveProcess.StartAsync(Path.Combine(folder, "Wave.RegistryProxy.dll"), [.. common, "--Wave:Proxy:RequestCacheTime=00:00:00"]);
        var api = await WaveProcess.StartAsync(Path.Combine(folder, "Wave.Api.dll"), [.. common, $"--services:registry-proxy:http:0={proxy.BaseAddress}"]);
        using var http = new HttpClient();
        using var content = new StringContent(tokenBody, System.Text.Encoding.UTF8, "application/json");
        using var issued = await http.PostAsync(new Uri(api.BaseAddress, "v1alpha2/container"), content);
        var text = await issued.Content.ReadAsStringAsync();
        if (!issued.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /v1alpha2/container ({label}): {(int)issued.StatusCode} {text}");
        }
        var token = System.Text.Json.Nodes.JsonNode.Parse(text)!["containerToken"]!.GetValue<string>();
        var manifestUrl = $"http://{proxy.Host}/v2/wt/{token}/bench/small/manifests/v1";
        await Wrk.RunAsync(manifestUrl, 1, TimeSpan.FromSeconds(1), Wrk.ManifestGet(), work); // computes and caches the augmentation
        return new Stack(label, redis, proxy, api, manifestUrl);
    }

    private static LoadResult Median(IReadOnlyList<LoadResult> runs) => new(
        Report.Median([.. runs.Select(r => r.RequestsPerSecond)]), Report.Median([.. runs.Select(r => r.P50Ms)]),
        Report.Median([.. runs.Select(r => r.P99Ms)]), runs.Sum(r => r.Requests), runs.Sum(r => r.Errors));

    private static string Describe(LoadResult r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.RequestsPerSecond:N0} req/s, p50 {r.P50Ms:0.00} ms, p99 {r.P99Ms:0.00} ms{(r.Errors > 0 ? $", {r.Errors} errors" : "")}");

    private static string Range(IReadOnlyList<LoadResult> runs) => string.Create(CultureInfo.InvariantCulture,
        $"{Report.Median([.. runs.Select(r => r.RequestsPerSecond)]):N0} req/s ({runs.Min(r => r.RequestsPerSecond):N0}–{runs.Max(r => r.RequestsPerSecond):N0}), errors {runs.Sum(r => r.Errors)}");
}
