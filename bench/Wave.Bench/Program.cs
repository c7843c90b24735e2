using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

using Wave.Bench;
using Wave.Tests.Infrastructure;

// Wave against the distribution registry serving the same content directly, in one run on one machine: every Wave
// figure is reported with its ratio to that baseline. Usage (bench/run.sh passes the first argument):
//   Wave.Bench <path to Wave.Api.dll> [--duration 5] [--tokens 20000] [--concurrent-pulls 1000] [--pulls 15] [--no-docker] [--out file] [--only sections]
// Pulls per BlobThroughputAsync measurement (its best one is the figure; all of them are in its CPU count).
const int BestOfPulls = 5;
var options = BenchOptions.Parse(args);
var work = Directory.CreateTempSubdirectory("wave-bench-").FullName;
var report = new Report();
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;

Console.WriteLine("Starting the registry and pushing the images…");
await using var registry = await RegistryServer.StartNewAsync(Path.Combine(work, "registry"), null, null);
var smallLayer = BenchLayer.Random("small.bin", 64 * 1024);
var appLayers = Enumerable.Range(0, 4).Select(i => BenchLayer.Random($"app{i}.bin", 16 * 1024 * 1024)).ToList();
var bigLayer = BenchLayer.Random("big.bin", 100 * 1024 * 1024);
await BenchImages.PushAsync(registry, "bench/small", "v1", [smallLayer]);
await BenchImages.PushAsync(registry, "bench/app", "v1", appLayers);
await BenchImages.PushAsync(registry, "bench/big", "v1", [bigLayer]);
var added = BenchLayer.Random("wave/added.bin", 1024);
// The augmented image's own baseline: the registry serving the same layers, the added one included, directly.
await BenchImages.PushAsync(registry, "bench/app-added", "v1", [.. appLayers, added]);

Console.WriteLine("Starting Wave (dotnet Wave.Api.dll --Wave:Embedded=true)…");
await using var wave = await WaveProcess.StartEmbeddedAsync(options.WaveApiDll);
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { Timeout = TimeSpan.FromMinutes(5) };

string RequestBody(string image, string? layerLocation = null, BenchLayer? layer = null)
{
    layer ??= added;
    return new JsonObject
    {
        ["containerImage"] = $"{registry.Host}/{image}",
        ["containerConfig"] = new JsonObject
        {
            ["env"] = new JsonArray("BENCH=1"),
            ["layers"] = new JsonArray(new JsonObject
            {
                ["location"] = layerLocation ?? "data:" + Convert.ToBase64String(layer.Gzip),
                ["gzipDigest"] = layer.GzipDigest,
                ["gzipSize"] = layer.Gzip.Length,
                ["tarDigest"] = layer.TarDigest,
            }),
        },
    }.ToJsonString();
}

async Task<string> IssueAsync(string body, WaveProcess? to = null)
{
    using var content = new StringContent(body, Encoding.UTF8, "application/json");
    using var response = await http.PostAsync(new Uri((to ?? wave).BaseAddress, "v1alpha2/container"), content);
    var text = await response.Content.ReadAsStringAsync();
    if (!response.IsSuccessStatusCode)
    {
        throw new InvalidOperationException($"POST /v1alpha2/container: {(int)response.StatusCode} {text}");
    }
    return JsonNode.Parse(text)!["containerToken"]!.GetValue<string>();
}

string WavePath(string token, string repository) => $"http://{wave.Host}/v2/wt/{token}/{repository}";
string DirectPath(string repository) => $"http://{registry.Host}/v2/{repository}";

// --- Manifest GET ------------------------------------------------------------------------------------------------
if (options.Runs("manifest"))
{
    Console.WriteLine("Manifest GET…");
    var cachedToken = await IssueAsync(RequestBody("bench/small:v1"));
    await GetManifestAsync(http, $"{WavePath(cachedToken, "bench/small")}/manifests/v1"); // computes and caches it
    foreach (var connections in new[] { 1, 8, 64 })
    {
        var direct = await Wrk.RunAsync($"{DirectPath("bench/small")}/manifests/v1", connections, options.Duration, Wrk.ManifestGet(), work);
        var cached = await Wrk.RunAsync($"{WavePath(cachedToken, "bench/small")}/manifests/v1", connections, options.Duration, Wrk.ManifestGet(), work);
        var cold = await ColdManifestsAsync(connections, Math.Max(200, connections * 25));
        report.Load($"manifest GET, {connections} conn: cached augmented", direct, cached, "≥ 1.00× req/s");
        report.Load($"manifest GET, {connections} conn: cold augmentation", direct, cold, null);
    }
}

async Task<LoadResult> ColdManifestsAsync(int connections, int count)
{
    // Fresh tokens, each pulled once: every GET is an augmentation (upstream manifest + config, rewrite, store).
    var tokens = new ConcurrentQueue<string>();
    var body = RequestBody("bench/small:v1");
    await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (_, _) => tokens.Enqueue(await IssueAsync(body)));
    var latencies = new ConcurrentBag<double>();
    long errors = 0;
    var clock = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => Task.Run(async () =>
    {
        while (tokens.TryDequeue(out var token))
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await GetManifestAsync(http, $"{WavePath(token, "bench/small")}/manifests/v1");
                latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            catch (Exception)
            {
                Interlocked.Increment(ref errors);
            }
        }
    })));
    return LoadResult.FromLatencies([.. latencies], clock.Elapsed, errors);
}

static async Task GetManifestAsync(HttpClient http, string url)
{
    using var request = new HttpRequestMessage(HttpMethod.Get, url);
    request.Headers.Accept.ParseAdd(BenchImages.ManifestType);
    using var response = await http.SendAsync(request);
    response.EnsureSuccessStatusCode();
    await response.Content.ReadAsByteArrayAsync();
}

// --- POST /v1alpha2/container --------------------------------------------------------------------------------------
if (options.Runs("post"))
{
    Console.WriteLine("POST /v1alpha2/container…");
    await IssueAsync(RequestBody("bench/small:v1"));
    // A .NET process compiles its hot paths again, optimised, in its first seconds under load (tiered JIT): the
    // figures are of the steady state after one unmeasured run, as the registry's are of a compiled Go binary.
    await Wrk.RunAsync($"http://{wave.Host}/v1alpha2/container", 64, options.Duration, Wrk.JsonPost(RequestBody("bench/small:v1")), work);
    foreach (var connections in new[] { 8, 64 })
    {
        var post = await Wrk.RunAsync($"http://{wave.Host}/v1alpha2/container", connections, options.Duration, Wrk.JsonPost(RequestBody("bench/small:v1")), work);
        report.Absolute($"POST /v1alpha2/container, {connections} conn", post, "≥ 2,000 req/s");
    }
    await using (var cachingWave = await WaveProcess.StartEmbeddedAsync(options.WaveApiDll, "--Wave:Tokens:UpstreamCacheTime=00:00:10"))
    {
        await Wrk.RunAsync($"http://{cachingWave.Host}/v1alpha2/container", 64, options.Duration, Wrk.JsonPost(RequestBody("bench/small:v1")), work);
        var post = await Wrk.RunAsync($"http://{cachingWave.Host}/v1alpha2/container", 64, options.Duration, Wrk.JsonPost(RequestBody("bench/small:v1")), work);
        report.Absolute("POST /v1alpha2/container, 64 conn, Wave:Tokens:UpstreamCacheTime=10s", post, "≥ 2,000 req/s");
    }
}

// --- 100 MB blob ---------------------------------------------------------------------------------------------------
if (options.Runs("blob"))
{
    Console.WriteLine("100 MB blob…");
    var bigToken = await IssueAsync(RequestBody("bench/big:v1"));
    var redirectToken = await IssueAsync(RequestBody("bench/small:v1", $"{DirectPath("bench/big")}/blobs/{bigLayer.GzipDigest}", bigLayer));
    if (options.Hold)
    {
        // For profiling one transfer at a time (perf, curl): the processes stay up until the bench is stopped.
        Console.WriteLine($"direct: {DirectPath("bench/big")}/blobs/{bigLayer.GzipDigest}");
        Console.WriteLine($"wave:   {WavePath(bigToken, "bench/big")}/blobs/{bigLayer.GzipDigest}");
        Console.WriteLine($"wave pid {wave.Pid}; holding until stopped (Ctrl-C or SIGTERM)");
        // Stopping returns from the program, which disposes the registry and Wave started above: nothing outlives it.
        var stopped = new TaskCompletionSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stopped.TrySetResult();
        };
        using var terminated = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, signal =>
        {
            signal.Cancel = true;
            stopped.TrySetResult();
        });
        await stopped.Task;
        return;
    }
    var registryPid = registry.ProcessId!.Value;
    var directUrl = $"{DirectPath("bench/big")}/blobs/{bigLayer.GzipDigest}";
    await BlobThroughputAsync(directUrl); // page cache and JIT warm-up
    var bigBlob = $"{WavePath(bigToken, "bench/big")}/blobs/{bigLayer.GzipDigest}";
    // Every row pulls the layer directly and through Wave in turn, round after round: a 100 MB pull takes ~50 ms here,
    // short enough for one busy moment of the machine to halve a single figure.
    var firstPull = await PairedBlobAsync(directUrl, bigBlob, beforeWave: wave.EmptyBlobCacheAsync);
    report.Paired("100 MB blob: first pull of a layer (streamed from the upstream, verified, written to the blob cache)", firstPull, null);
    report.Paired("100 MB blob: repeated pulls (from the blob cache)", await PairedBlobAsync(directUrl, bigBlob), "≥ 0.90×");
    Paired streamed;
    double streamedCpu;
    await using (var uncachedWave = await WaveProcess.StartEmbeddedAsync(options.WaveApiDll, "--Wave:Proxy:BlobCache:Enabled=false"))
    {
        var streamedToken = await IssueAsync(RequestBody("bench/big:v1"), uncachedWave);
        var streamedUrl = $"http://{uncachedWave.Host}/v2/wt/{streamedToken}/bench/big/blobs/{bigLayer.GzipDigest}";
        await BlobThroughputAsync(streamedUrl); // JIT warm-up of the streaming path
        streamed = await PairedBlobAsync(directUrl, streamedUrl);
        report.Paired("100 MB blob: streamed from the upstream and verified, every pull (blob cache off)", streamed, "≥ 0.90×");
        (_, streamedCpu) = await WithCpuAsync(() => BlobThroughputAsync(streamedUrl), registryPid, uncachedWave.Pid);
    }
    report.Paired("100 MB blob: http layer (redirect)", await PairedBlobAsync(directUrl, $"{WavePath(redirectToken, "bench/small")}/blobs/{bigLayer.GzipDigest}"), null);

    // What a proxy that only copies bytes reaches here: socat relaying TCP to the registry with 1 MiB buffers, no
    // HTTP, no hashing. With the CPU each side used, it shows where the streamed rows' time goes.
    var (_, directCpu) = await WithCpuAsync(() => BlobThroughputAsync(directUrl), registryPid);
    var relayPort = FreePort.Next();
    await using (var relay = TestProcess.Start(Requirements.Binary("socat", "socat"),
        ["-b", "1048576", $"TCP-LISTEN:{relayPort},bind=127.0.0.1,fork,reuseaddr", $"TCP:{registry.Host}"]))
    {
        await FreePort.WaitListeningAsync(relayPort, TimeSpan.FromSeconds(10), () => "socat did not listen");
        var relayUrl = $"http://127.0.0.1:{relayPort}/v2/bench/big/blobs/{bigLayer.GzipDigest}";
        await BlobThroughputAsync(relayUrl);
        report.Paired("100 MB blob: a bare TCP relay in front of the registry (socat, 1 MiB buffers, no HTTP, no hashing)", await PairedBlobAsync(directUrl, relayUrl), null);
        var (_, relayedCpu) = await WithCpuAsync(() => BlobThroughputAsync(relayUrl), registryPid, relay.Id);

        // Verifying costs a SHA-256 of every byte on top of relaying them. All the processes share the cores, so no
        // verifying proxy can move a MB faster than (CPU of the relayed transfer + SHA-256) / cores, however it is
        // built, nor faster than the registry sends it.
        var sha = Sha256MillisecondsPerMB(bigLayer.Gzip);
        var directBlob = streamed.DirectMBps;
        var floor = Math.Max(1000 / directBlob, (relayedCpu + sha) / Environment.ProcessorCount);
        report.Row($"100 MB blob: CPU per MB, all processes (registry, client, and relay or Wave); SHA-256 alone is {sha:0.00} ms/MB here",
            $"{directCpu:0.00} ms/MB (relay: {relayedCpu:0.00})",
            $"{streamedCpu:0.00} ms/MB streamed and verified",
            $"a verifying proxy on {Environment.ProcessorCount} cores can reach at most {1000 / floor:N0} MB/s = {1000 / floor / directBlob:0.00}× direct; Wave streams at {streamed.WaveMBps / (1000 / floor):0.00}× that bound");
    }
}

// Pulls the layer directly and through Wave in turn (alternating which goes first), 9 rounds: medians of each side and
// of the rounds' own ratios.
async Task<Paired> PairedBlobAsync(string directUrl, string waveUrl, Func<bool, Task>? beforeWave = null)
{
    var direct = new List<double>();
    var through = new List<double>();
    for (var round = 0; round < 9; round++)
    {
        async Task WaveAsync()
        {
            if (beforeWave is not null)
            {
                await beforeWave(round > 0);
            }
            through.Add(await BlobPullAsync(waveUrl));
        }
        if (round % 2 == 0)
        {
            direct.Add(await BlobPullAsync(directUrl));
            await WaveAsync();
        }
        else
        {
            await WaveAsync();
            direct.Add(await BlobPullAsync(directUrl));
        }
    }
    return new Paired(Report.Median(direct), Report.Median(through), Report.Median(direct.Zip(through, (d, w) => w / d).ToList()));
}

// The CPU time (user + system) the given processes and this one (the client) used while a measurement ran, per MB
// moved (the pulls of BlobThroughputAsync). Reaped children count too: socat forks one per connection.
async Task<(double MBps, double CpuMsPerMB)> WithCpuAsync(Func<Task<double>> measure, params int[] pids)
{
    double Cpu() => pids.Sum(ProcessCpuSeconds) + Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
    var before = Cpu();
    var mbps = await measure();
    var megabytes = BestOfPulls * bigLayer.Gzip.Length / 1e6;
    return (mbps, (Cpu() - before) * 1000 / megabytes);
}

static double ProcessCpuSeconds(int pid)
{
    // /proc/PID/stat after "(comm) ": state is field 3, utime/stime/cutime/cstime fields 14–17, in clock ticks (100/s).
    // Reaped children are in cutime/cstime; live ones (socat's child serving a kept-alive connection) are added here.
    string stat;
    try
    {
        stat = File.ReadAllText($"/proc/{pid}/stat");
    }
    catch (IOException)
    {
        return 0; // exited in between: its time is in its parent's cutime once reaped
    }
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    var own = Enumerable.Range(11, 4).Sum(i => long.Parse(fields[i], CultureInfo.InvariantCulture)) / 100.0;
    var children = Directory.EnumerateDirectories($"/proc/{pid}/task")
        .SelectMany(task => File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
        .Sum(child => ProcessCpuSeconds(int.Parse(child, CultureInfo.InvariantCulture)));
    return own + children;
}

static double Sha256MillisecondsPerMB(byte[] bytes)
{
    var best = double.MaxValue;
    for (var i = 0; i < 3; i++)
    {
        var clock = Stopwatch.StartNew();
        System.Security.Cryptography.SHA256.HashData(bytes);
        best = Math.Min(best, clock.Elapsed.TotalMilliseconds / (bytes.Length / 1e6));
    }
    return best;
}

// The best of BestOfPulls pulls (warm-ups, CPU counts), in MB/s.
async Task<double> BlobThroughputAsync(string url)
{
    var best = 0.0;
    for (var i = 0; i < BestOfPulls; i++)
    {
        best = Math.Max(best, await BlobPullAsync(url));
    }
    return best;
}

async Task<double> BlobPullAsync(string url)
{
    var buffer = new byte[256 * 1024];
    var clock = Stopwatch.StartNew();
    using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
    response.EnsureSuccessStatusCode();
    await using var body = await response.Content.ReadAsStreamAsync();
    long total = 0;
    int read;
    while ((read = await body.ReadAsync(buffer)) > 0)
    {
        total += read;
    }
    return total / 1e6 / clock.Elapsed.TotalSeconds; // MB/s
}

// --- docker pull ---------------------------------------------------------------------------------------------------
if (options.Docker && options.Runs("pull"))
{
    Console.WriteLine("docker pull…");
    await using var docker = await DockerDaemon.StartAsync();
    async Task<double> PullSecondsAsync(string image)
    {
        var clock = Stopwatch.StartNew();
        await docker.RunAsync("pull", "-q", image);
        var seconds = clock.Elapsed.TotalSeconds;
        await docker.RunAsync("rmi", image);
        return seconds;
    }
    var directImage = $"{registry.Host}/bench/app:v1";
    // "Plain" requests name the image only: Wave serves it unchanged, so the pull does the same work as the direct
    // one. An augmented image has one more (small) layer, which dockerd must extract on top of the others.
    var plainBody = new JsonObject { ["containerImage"] = directImage }.ToJsonString();
    async Task<string> WaveImageAsync(string body, WaveProcess? through = null) =>
        $"{(through ?? wave).Host}/wt/{await IssueAsync(body, through)}/bench/app:v1";
    var plainWarm = await WaveImageAsync(plainBody);
    var augmentedWarm = await WaveImageAsync(RequestBody("bench/app:v1"));
    // The same image through a Wave whose blob cache is off: every layer is streamed from the registry and verified.
    await using var uncachedWave = await WaveProcess.StartEmbeddedAsync(options.WaveApiDll, "--Wave:Proxy:BlobCache:Enabled=false");
    await PullSecondsAsync(directImage); // warms up dockerd
    await PullSecondsAsync($"{registry.Host}/bench/app-added:v1");
    await PullSecondsAsync(plainWarm); // fills the blob cache and warms up the process
    await PullSecondsAsync(augmentedWarm);
    await PullSecondsAsync(await WaveImageAsync(plainBody, uncachedWave));
    // Each round pulls every kind once, starting with a different one each time: a pull is ~1 s of mostly dockerd
    // extracting layers, whose run-to-run spread (±15 %) is wider than the difference being measured.
    var kinds = new (string Name, Func<Task<string>> Image)[]
    {
        ("direct", () => Task.FromResult(directImage)),
        ("direct with the added layer", () => Task.FromResult($"{registry.Host}/bench/app-added:v1")),
        ("fresh", () => WaveImageAsync(plainBody)),
        ("warm", () => Task.FromResult(plainWarm)),
        ("augmented", () => Task.FromResult(augmentedWarm)),
        ("streamed", () => WaveImageAsync(plainBody, uncachedWave)),
    };
    var pulls = kinds.ToDictionary(kind => kind.Name, _ => new double[options.PullRounds]);
    for (var round = 0; round < options.PullRounds; round++)
    {
        for (var k = 0; k < kinds.Length; k++)
        {
            var (name, image) = kinds[(round + k) % kinds.Length];
            pulls[name][round] = await PullSecondsAsync(await image());
        }
    }
    report.Rounds("docker pull, 4×16 MB layers, same image through Wave: fresh token (layers from the blob cache)", pulls["direct"], pulls["fresh"], "≤ 1.05× time");
    report.Rounds("docker pull, 4×16 MB layers, same image through Wave: warm token (layers from the blob cache)", pulls["direct"], pulls["warm"], "≤ 1.05× time");
    report.Rounds("docker pull, 4×16 MB layers, same image through Wave: fresh token, blob cache off (every layer streamed)", pulls["direct"], pulls["streamed"], "≤ 1.05× time");
    report.Rounds("docker pull, 4×16 MB layers + 1 added layer (augmented), warm token; direct: the registry serving those 5 layers", pulls["direct with the added layer"], pulls["augmented"], "≤ 1.05× time");
}

// --- Memory --------------------------------------------------------------------------------------------------------
if (options.Runs("memory"))
{
    Console.WriteLine($"Memory: {options.Tokens:N0} tokens, {options.ConcurrentPulls:N0} concurrent pulls…");
    await using (var fresh = await WaveProcess.StartEmbeddedAsync(options.WaveApiDll))
    {
        using var memoryHttp = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.ConcurrentPulls + 8 }) { Timeout = TimeSpan.FromMinutes(5) };
        var body = RequestBody("bench/small:v1");
        async Task PostAsync()
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await memoryHttp.PostAsync(new Uri(fresh.BaseAddress, "v1alpha2/container"), content);
            response.EnsureSuccessStatusCode();
        }
        await PostAsync();
        var idle = fresh.ResidentBytes();
        await Parallel.ForEachAsync(Enumerable.Range(0, options.Tokens), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (_, _) => await PostAsync());
        var afterTokens = fresh.ResidentBytes();
        report.Memory($"RSS after {options.Tokens:N0} issued tokens (in-memory state)", idle, afterTokens, options.Tokens);

        string pullToken;
        using (var content = new StringContent(RequestBody("bench/app:v1"), Encoding.UTF8, "application/json"))
        using (var issued = await memoryHttp.PostAsync(new Uri(fresh.BaseAddress, "v1alpha2/container"), content))
        {
            pullToken = JsonNode.Parse(await issued.EnsureSuccessStatusCode().Content.ReadAsStringAsync())!["containerToken"]!.GetValue<string>();
        }
        var layerUrl = $"http://{fresh.Host}/v2/wt/{pullToken}/bench/app/blobs/{appLayers[0].GzipDigest}";
        // Every pull has its headers and the start of its body, then stalls: Wave holds all of them open at once.
        var (beforePulls, duringPulls, started) = await HeldOpenPulls.MeasureAsync(memoryHttp, layerUrl, options.ConcurrentPulls, fresh.ResidentBytes);
        report.Memory($"RSS with {options.ConcurrentPulls:N0} concurrent blob pulls held open, served from the blob cache (after one whole pull; {started:N0} started within 20 s)", beforePulls, duringPulls, options.ConcurrentPulls);
    }
}

// --- Builds --------------------------------------------------------------------------------------------------------
if (options.Runs("build"))
{
    Console.WriteLine("Builds (Wave's local buildah backend vs buildah direct)…");
    await new BuildBench(registry, options.WaveApiDll, work, report).RunAsync();
}

// --- Memory of each service in distributed mode ----------------------------------------------------------------------
if (options.Runs("services"))
{
    Console.WriteLine($"Memory of the distributed services: {options.Tokens:N0} tokens, {options.ConcurrentPulls:N0} concurrent pulls…");
    await new ServicesMemoryBench(registry, options, report, RequestBody("bench/small:v1"), RequestBody("bench/app:v1"), appLayers[0].GzipDigest).RunAsync();
}

// --- Distributed mode's hot paths (Redis-backed), this build against another (--before DIR) ---------------------------
if (options.Runs("distributed"))
{
    Console.WriteLine("Distributed mode: manifest GET (Redis-backed) and POST…");
    await new DistributedBench(registry, options, report, RequestBody("bench/small:v1"), work).RunAsync();
}

var markdown = report.ToMarkdown(options);
Console.WriteLine();
Console.WriteLine(markdown);
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.Output))!);
await File.WriteAllTextAsync(options.Output, markdown);
Console.WriteLine($"written to {options.Output}");
try
{
    Directory.Delete(work, recursive: true);
}
catch (IOException)
{
}
