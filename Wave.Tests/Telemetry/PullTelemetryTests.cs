using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

using Wave.AppHost.Dashboard;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Redis;
using Wave.Tests.ServiceDefaults;

namespace Wave.Tests.Telemetry;

/// <summary>
/// What a real pull emits. The Api and the registry proxy run as their own processes (so each exports only its own
/// spans, under its own service name) with OTEL_EXPORTER_OTLP_ENDPOINT pointing at an OTLP/HTTP receiver in the
/// test; a container request and a pull of its manifest and a layer, each sent with a traceparent, must come back as
/// connected traces: client → server span → Wave's spans → upstream registry operation → HttpClient.
/// </summary>
public sealed class PullTelemetryTests(RegistryFixture registryFixture, RedisFixture redisFixture)
{
    private const int ServerKind = 2;
    private const int ClientKind = 3;
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static readonly TestLayer Layer = TestLayer.Create(new Dictionary<string, string> { ["wave/traced.txt"] = "traced" });

    [Fact]
    public async Task A_pull_through_the_proxy_is_one_trace_from_the_server_span_to_the_upstream_registry()
    {
        var registries = await registryFixture.GetAsync();
        var redis = await redisFixture.GetAsync();
        await using var receiver = await OtlpReceiver.StartAsync();

        var proxyPort = FreePort.Next();
        var apiPort = FreePort.Next();
        var environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__redis"] = redis.ConnectionString,
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Address.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            // Export within a second rather than the SDK's 5 s (spans) and 60 s (metrics).
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        foreach (var (key, value) in WaveFixture.RegistrySettings(registries))
        {
            environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        await using var proxy = StartService("Wave.RegistryProxy", "registry-proxy", proxyPort, environment);
        await WaitHealthyAsync(proxyPort, proxy);
        environment["services__registry-proxy__http__0"] = $"http://127.0.0.1:{proxyPort}";
        await using var api = StartService("Wave.Api", "api", apiPort, environment);
        await WaitHealthyAsync(apiPort, api);

        // The container request, as a client in a trace of its own.
        using var http = new HttpClient();
        var (apiTrace, apiParent) = NewTraceParent();
        using var post = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{apiPort}/v1alpha2/container")
        {
            Content = JsonContent.Create(new
            {
                containerImage = registries.Images.BasicPrivate,
                containerConfig = new { layers = new[] { Layer.AsDataLayer() } },
            }),
        };
        post.Headers.Add("traceparent", $"00-{apiTrace}-{apiParent}-01");
        using var posted = await http.SendAsync(post, Token);
        var answerText = await posted.Content.ReadAsStringAsync(Token);
        Assert.True(posted.IsSuccessStatusCode, answerText + "\n" + api.Output);
        var answer = JsonNode.Parse(answerText)!;
        var containerToken = answer["containerToken"]!.GetValue<string>();
        var targetImage = answer["targetImage"]!.GetValue<string>();
        var path = targetImage[(targetImage.IndexOf('/') + 1)..];
        var repository = path[..path.LastIndexOf(':')];
        var tag = path[(path.LastIndexOf(':') + 1)..];

        // The pull: its manifest, then one of the upstream layers it lists.
        var (pullTrace, pullParent) = NewTraceParent();
        using var get = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{proxyPort}/v2/{repository}/manifests/{tag}");
        get.Headers.Add("traceparent", $"00-{pullTrace}-{pullParent}-01");
        get.Headers.Accept.ParseAdd("application/vnd.docker.distribution.manifest.v2+json");
        get.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json");
        using var manifestResponse = await http.SendAsync(get, Token);
        var manifestText = await manifestResponse.Content.ReadAsStringAsync(Token);
        Assert.True(manifestResponse.IsSuccessStatusCode, manifestText + "\n" + proxy.Output);
        var upstreamLayer = JsonNode.Parse(manifestText)!["layers"]!.AsArray()[0]!["digest"]!.GetValue<string>();

        var (blobTrace, blobParent) = NewTraceParent();
        using var blobGet = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{proxyPort}/v2/{repository}/blobs/{upstreamLayer}");
        blobGet.Headers.Add("traceparent", $"00-{blobTrace}-{blobParent}-01");
        using var blobResponse = await http.SendAsync(blobGet, Token);
        Assert.True(blobResponse.IsSuccessStatusCode, $"{blobResponse.StatusCode}\n{proxy.Output}");
        await blobResponse.Content.ReadAsByteArrayAsync(Token);

        var registryHost = registries.Basic.Host;

        // Api: server span (child of the client's) → resolve upstream → upstream GET manifest (registry, status) → HttpClient.
        var apiSpans = await receiver.WaitForTraceAsync(apiTrace, spans => spans.Any(s => s.Name == "upstream GET manifest"), () => api.Output);
        Assert.All(apiSpans, s => Assert.Equal("api", s.Service));
        var apiServer = Assert.Single(apiSpans, s => s.Kind == ServerKind && s.ParentSpanId == apiParent);
        var resolve = Assert.Single(apiSpans, s => s.Name == "resolve upstream");
        Assert.Equal(apiServer.SpanId, resolve.ParentSpanId);
        Assert.Equal(registries.Images.BasicPrivate, resolve.Attributes!["wave.source.image"]);
        var apiUpstream = Assert.Single(apiSpans, s => s.Name == "upstream GET manifest");
        AssertUpstream(apiUpstream, resolve, registryHost, apiSpans);

        // Proxy, manifest: server span → serve manifest (token, pull id) → augment → upstream GET manifest/blob → HttpClient.
        var pullSpans = await receiver.WaitForTraceAsync(pullTrace, spans => spans.Any(s => s.Name == "serve manifest"), () => proxy.Output);
        Assert.All(pullSpans, s => Assert.Equal("registry-proxy", s.Service));
        var proxyServer = Assert.Single(pullSpans, s => s.Kind == ServerKind && s.ParentSpanId == pullParent);
        var serve = Assert.Single(pullSpans, s => s.Name == "serve manifest");
        Assert.Equal(proxyServer.SpanId, serve.ParentSpanId);
        Assert.Equal(containerToken, serve.Attributes!["wave.token"]);
        Assert.Equal(pullTrace, serve.Attributes["wave.pull.id"]);
        var augment = Assert.Single(pullSpans, s => s.Name == "augment");
        Assert.Equal(serve.SpanId, augment.ParentSpanId);
        Assert.Equal(containerToken, augment.Attributes!["wave.token"]);
        AssertUpstream(Assert.Single(pullSpans, s => s.Name == "upstream GET manifest"), augment, registryHost, pullSpans);
        AssertUpstream(Assert.Single(pullSpans, s => s.Name == "upstream GET blob"), augment, registryHost, pullSpans); // the config
        // The token's request and computed content live in Redis: its commands are spans of the same trace.
        Assert.Contains(pullSpans, s => s.Attributes!.GetValueOrDefault("db.system.name") == "redis" && s.Kind == ClientKind);

        // Proxy, layer: server span → serve blob (token) → upstream GET blob, streamed.
        var blobSpans = await receiver.WaitForTraceAsync(blobTrace, spans => spans.Any(s => s.Name == "serve blob"), () => proxy.Output);
        var serveBlob = Assert.Single(blobSpans, s => s.Name == "serve blob");
        Assert.Equal(Assert.Single(blobSpans, s => s.Kind == ServerKind).SpanId, serveBlob.ParentSpanId);
        Assert.Equal(containerToken, serveBlob.Attributes!["wave.token"]);
        Assert.Equal(upstreamLayer, serveBlob.Attributes["wave.registry.reference"]);
        AssertUpstream(Assert.Single(blobSpans, s => s.Name == "upstream GET blob"), serveBlob, registryHost, blobSpans);

        // Metrics: the proxy counts the pull and times the augmentation and upstream operations; the Api its upstream call.
        await receiver.WaitForMetricAsync("registry-proxy", "wave.pulls", () => proxy.Output);
        await receiver.WaitForMetricAsync("registry-proxy", "wave.augmentation.duration", () => proxy.Output);
        await receiver.WaitForMetricAsync("registry-proxy", "wave.upstream.duration", () => proxy.Output);
        await receiver.WaitForMetricAsync("api", "wave.upstream.duration", () => api.Output);
    }

    /// <summary>An upstream operation span under <paramref name="parent"/>, with its registry and status, over at least one HttpClient span.</summary>
    private static void AssertUpstream(ReceivedSpan upstream, ReceivedSpan parent, string registryHost, IReadOnlyList<ReceivedSpan> trace)
    {
        Assert.Equal(parent.SpanId, upstream.ParentSpanId);
        Assert.Equal(ClientKind, upstream.Kind);
        Assert.Equal(registryHost, upstream.Attributes!["server.address"]);
        Assert.Equal("200", upstream.Attributes["http.response.status_code"]);
        Assert.False(string.IsNullOrEmpty(upstream.Attributes["wave.registry.repository"]));
        Assert.Contains(trace, s => s.ParentSpanId == upstream.SpanId && s.Kind == ClientKind && s.Name.StartsWith("GET", StringComparison.Ordinal));
    }

    private static (string TraceId, string SpanId) NewTraceParent() =>
        (ActivityTraceId.CreateRandom().ToHexString(), ActivitySpanId.CreateRandom().ToHexString());

    private static TestProcess StartService(string assemblyName, string serviceName, int port, Dictionary<string, string?> environment)
    {
        var assembly = Path.Combine(AppContext.BaseDirectory, assemblyName + ".dll");
        Assert.True(File.Exists(assembly), $"{assembly} is missing: the test project references {assemblyName}, so the build puts it there");
        var own = new Dictionary<string, string?>(environment)
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["OTEL_SERVICE_NAME"] = serviceName,
            ["Wave__DataDirectory"] = Directory.CreateTempSubdirectory("wave-telemetry-").FullName,
        };
        return TestProcess.Start("dotnet", [assembly], own, AppContext.BaseDirectory);
    }

    private static async Task WaitHealthyAsync(int port, TestProcess process)
    {
        await FreePort.WaitListeningAsync(port, TimeSpan.FromSeconds(60), () => process.Output);
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            using var health = await http.GetAsync($"http://127.0.0.1:{port}/health", Token);
            if (health.IsSuccessStatusCode)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"/health is {health.StatusCode}: {await health.Content.ReadAsStringAsync(Token)}\n{process.Output}");
            await Task.Delay(200, Token);
        }
    }

    /// <summary>An OTLP/HTTP protobuf receiver on a loopback port, reading with the AppHost dashboard's own readers.</summary>
    private sealed class OtlpReceiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
        private readonly ConcurrentQueue<ReceivedMetric> _metrics = new();

        private OtlpReceiver(WebApplication app) => _app = app;

        public Uri Address { get; private set; } = null!;

        public static async Task<OtlpReceiver> StartAsync()
        {
            var app = TestApps.Builder().Build();
            var receiver = new OtlpReceiver(app);
            app.MapPost("/v1/traces", async (HttpRequest request) =>
            {
                foreach (var span in OtlpTraceReader.Read(await ReadAsync(request)))
                {
                    receiver._spans.Enqueue(span);
                }
                return Results.Bytes([], "application/x-protobuf");
            });
            app.MapPost("/v1/metrics", async (HttpRequest request) =>
            {
                foreach (var metric in OtlpMetricReader.Read(await ReadAsync(request)))
                {
                    receiver._metrics.Enqueue(metric);
                }
                return Results.Bytes([], "application/x-protobuf");
            });
            app.MapPost("/v1/logs", () => Results.Bytes([], "application/x-protobuf"));
            receiver.Address = await app.StartOnLoopbackAsync();
            return receiver;
        }

        private static async Task<byte[]> ReadAsync(HttpRequest request)
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, request.HttpContext.RequestAborted);
            return body.ToArray();
        }

        /// <summary>The spans of one trace once <paramref name="complete"/> holds for them, each span once.</summary>
        public async Task<IReadOnlyList<ReceivedSpan>> WaitForTraceAsync(string traceId, Func<IReadOnlyList<ReceivedSpan>, bool> complete, Func<string> diagnostics)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (true)
            {
                // Spans of one request may arrive in separate exports: wait for a quiet moment once complete.
                var spans = Trace(traceId);
                if (complete(spans))
                {
                    await Task.Delay(1_000, Token);
                    return Trace(traceId);
                }
                Assert.True(DateTime.UtcNow < deadline,
                    $"trace {traceId} did not arrive complete; got [{string.Join(", ", spans.Select(s => s.Name))}]\n{diagnostics()}");
                await Task.Delay(100, Token);
            }
        }

        private List<ReceivedSpan> Trace(string traceId) =>
            [.. _spans.Where(s => s.TraceId == traceId).DistinctBy(s => s.SpanId)];

        public async Task WaitForMetricAsync(string service, string name, Func<string> diagnostics)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (!_metrics.Any(m => m.Service == service && m.Name == name))
            {
                Assert.True(DateTime.UtcNow < deadline,
                    $"metric {name} of {service} did not arrive; got [{string.Join(", ", _metrics.Where(m => m.Service == service).Select(m => m.Name).Distinct())}]\n{diagnostics()}");
                await Task.Delay(100, Token);
            }
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
