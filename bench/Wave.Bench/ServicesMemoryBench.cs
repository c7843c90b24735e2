using System.Text;
using System.Text.Json.Nodes;

using Wave.Tests.Infrastructure;

namespace Wave.Bench;

/// <summary>
/// Resident set of each service of the distributed mode (Api, registry proxy, builder, each <c>dotnet Wave.X.dll</c>
/// from Wave.Api's output folder, which holds all three, sharing a private redis-server): idle, after N issued tokens
/// (POSTs in a loop, 32 at a time), and with 1,000 streamed blob pulls held open on the proxy.
/// </summary>
public sealed class ServicesMemoryBench(RegistryServer registry, BenchOptions options, Report report, string tokenBody, string pullBody, string layerDigest)
{
    public async Task RunAsync()
    {
        var folder = Path.GetDirectoryName(options.WaveApiDll)!;
        var data = Directory.CreateTempSubdirectory("wave-bench-services-").FullName;
        await using var redis = await BenchRedis.StartAsync(data);
        string[] common = [$"--ConnectionStrings:redis={redis.ConnectionString}", "--Wave:Security:AllowedNetworks:0=127.0.0.0/8"];
        // Blob cache off: the held-open pulls below measure the streamed path (the embedded figure is of cache hits).
        await using var proxy = await WaveProcess.StartAsync(Path.Combine(folder, "Wave.RegistryProxy.dll"), [.. common, "--Wave:Proxy:BlobCache:Enabled=false"]);
        await using var api = await WaveProcess.StartAsync(Path.Combine(folder, "Wave.Api.dll"),
            [.. common, $"--services:registry-proxy:http:0={proxy.BaseAddress}"]);
        await using var builder = await WaveProcess.StartAsync(Path.Combine(folder, "Wave.Builder.dll"),
            [.. common, $"--Wave:DataDirectory={Path.Combine(data, "builder")}", $"--Wave:Build:DefaultBuildRepository={registry.Host}/wave/builds"]);

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.ConcurrentPulls + 8 }) { Timeout = TimeSpan.FromMinutes(5) };
        async Task<string> PostAsync(string body)
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await http.PostAsync(new Uri(api.BaseAddress, "v1alpha2/container"), content);
            var text = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"POST /v1alpha2/container: {(int)response.StatusCode} {text}");
            }
            return text;
        }

        await PostAsync(tokenBody);
        var apiIdle = api.ResidentBytes();
        var proxyIdle = proxy.ResidentBytes();
        var builderIdle = builder.ResidentBytes();
        var redisIdle = redis.ResidentBytes();
        await Parallel.ForEachAsync(Enumerable.Range(0, options.Tokens), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (_, _) => await PostAsync(tokenBody));
        report.Memory($"distributed Api: RSS after {options.Tokens:N0} issued tokens", apiIdle, api.ResidentBytes(), options.Tokens);
        report.Memory($"distributed registry proxy: RSS after {options.Tokens:N0} tokens issued by the Api", proxyIdle, proxy.ResidentBytes(), options.Tokens);
        report.Memory($"distributed builder: RSS (idle, no builds) after {options.Tokens:N0} tokens", builderIdle, builder.ResidentBytes(), options.Tokens);
        report.Memory($"redis-server: RSS after {options.Tokens:N0} tokens (their state)", redisIdle, redis.ResidentBytes(), options.Tokens);

        var pullToken = JsonNode.Parse(await PostAsync(pullBody))!["containerToken"]!.GetValue<string>();
        var layerUrl = $"http://{proxy.Host}/v2/wt/{pullToken}/bench/app/blobs/{layerDigest}";
        var (beforePulls, duringPulls, started) = await HeldOpenPulls.MeasureAsync(http, layerUrl, options.ConcurrentPulls, proxy.ResidentBytes);
        report.Memory($"distributed registry proxy: RSS with {options.ConcurrentPulls:N0} concurrent blob pulls held open, streamed from the registry (blob cache off; {started:N0} started within 20 s)",
            beforePulls, duringPulls, options.ConcurrentPulls);
        try
        {
            Directory.Delete(data, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>A private redis-server without persistence, on a free loopback port.</summary>
    private sealed class BenchRedis : IAsyncDisposable
    {
        private readonly TestProcess _process;

        private BenchRedis(TestProcess process, int port)
        {
            _process = process;
            ConnectionString = $"127.0.0.1:{port}";
        }

        public string ConnectionString { get; }

        public static async Task<BenchRedis> StartAsync(string directory)
        {
            var port = FreePort.Next();
            var process = TestProcess.Start(Requirements.Binary("redis-server", "redis-server"),
                ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory, "--daemonize", "no"]);
            await FreePort.WaitListeningAsync(port, TimeSpan.FromSeconds(20), () => process.Output);
            return new BenchRedis(process, port);
        }

        public long ResidentBytes() => WaveProcess.ResidentBytesOf(_process.Id);

        public ValueTask DisposeAsync() => _process.DisposeAsync();
    }
}
