using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Redis;
using Wave.Tests.Infrastructure.Telemetry;

namespace Wave.Tests.Telemetry;

/// <summary>
/// What a real container request and pull emit, received by real OTLP endpoints. The Api and the registry proxy run as
/// their own processes (each exports only its own spans, under its own service name) with the environment Aspire gives
/// a project: traces and logs over OTLP/gRPC to the Aspire dashboard, metrics (through the per-signal variables) over
/// OTLP/HTTP protobuf to a receiver in the test, since the dashboard's API does not serve metrics.
/// <para>
/// The client does what a workflow engine tracing its tasks does: the container request and the pull of the image it
/// answered (manifest, then a layer) carry traceparents of one trace. That one trace must then hold the Api's spans
/// (request → resolve upstream → upstream registry → HttpClient, and its Redis commands), the proxy's (request → serve
/// manifest → augment → upstream → HttpClient; serve blob → upstream), each under the client's span for it.
/// </para>
/// </summary>
public sealed class PullTelemetryTests(RegistryFixture registryFixture, RedisFixture redisFixture, AspireDashboardFixture dashboardFixture)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static readonly TestLayer Layer = TestLayer.Create(new Dictionary<string, string> { ["wave/traced.txt"] = "traced" });

    [Fact]
    public async Task A_container_request_and_its_pull_are_one_trace_across_api_registry_proxy_and_upstream_and_the_meters_arrive()
    {
        var registries = await registryFixture.GetAsync();
        var redis = await redisFixture.GetAsync();
        var dashboard = await dashboardFixture.GetAsync();
        await using var metrics = await OtlpMetricsReceiver.StartAsync();

        var proxyPort = FreePort.Next();
        var apiPort = FreePort.Next();
        var environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__redis"] = redis.ConnectionString,
            ["Wave__State__KeyPrefix"] = $"telemetry-{Guid.NewGuid():N}:",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = dashboard.OtlpGrpcEndpoint.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc",
            ["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] = metrics.MetricsEndpoint.ToString(),
            ["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"] = "http/protobuf",
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
        string Diagnostics() => $"api:\n{api.Output}\nregistry-proxy:\n{proxy.Output}\ndashboard:\n{dashboard.Output}";

        var trace = ActivityTraceId.CreateRandom().ToHexString();
        using var http = new HttpClient();

        // The container request.
        var postParent = NewSpanId();
        using var post = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{apiPort}/v1alpha2/container")
        {
            Content = JsonContent.Create(new { containerImage = registries.Images.BasicPrivate, containerConfig = new { layers = new[] { Layer.AsDataLayer() } } }),
        };
        post.Headers.Add("traceparent", $"00-{trace}-{postParent}-01");
        using var posted = await http.SendAsync(post, Token);
        var answerText = await posted.Content.ReadAsStringAsync(Token);
        Assert.True(posted.IsSuccessStatusCode, answerText + "\n" + Diagnostics());
        var answer = JsonNode.Parse(answerText)!;
        var containerToken = answer["containerToken"]!.GetValue<string>();
        var targetImage = answer["targetImage"]!.GetValue<string>();
        var path = targetImage[(targetImage.IndexOf('/') + 1)..];
        var repository = path[..path.LastIndexOf(':')];
        var tag = path[(path.LastIndexOf(':') + 1)..];

        // The pull: its manifest, then one of the upstream layers it lists.
        var manifestParent = NewSpanId();
        using var get = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{proxyPort}/v2/{repository}/manifests/{tag}");
        get.Headers.Add("traceparent", $"00-{trace}-{manifestParent}-01");
        get.Headers.Accept.ParseAdd("application/vnd.docker.distribution.manifest.v2+json");
        get.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json");
        using var manifestResponse = await http.SendAsync(get, Token);
        var manifestText = await manifestResponse.Content.ReadAsStringAsync(Token);
        Assert.True(manifestResponse.IsSuccessStatusCode, manifestText + "\n" + Diagnostics());
        var upstreamLayer = JsonNode.Parse(manifestText)!["layers"]!.AsArray()[0]!["digest"]!.GetValue<string>();

        var blobParent = NewSpanId();
        using var blobGet = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{proxyPort}/v2/{repository}/blobs/{upstreamLayer}");
        blobGet.Headers.Add("traceparent", $"00-{trace}-{blobParent}-01");
        using var blobResponse = await http.SendAsync(blobGet, Token);
        Assert.True(blobResponse.IsSuccessStatusCode, $"{blobResponse.StatusCode}\n{Diagnostics()}");
        await blobResponse.Content.ReadAsByteArrayAsync(Token);

        var registryHost = registries.Basic.Host;
        // Redis spans are made from the client's command profiles, collected every few seconds: they come last.
        var spans = await WaitForTraceAsync(dashboard, trace, s =>
            s.Any(x => x.Service == "api" && x.Name == "upstream GET manifest")
            && s.Any(x => x.Name == "serve manifest") && s.Any(x => x.Name == "serve blob")
            && s.Any(x => x.Service == "api" && IsRedis(x)) && s.Any(x => x.Service == "registry-proxy" && IsRedis(x)), Diagnostics);
        Assert.All(spans, s => Assert.Equal(trace, s.TraceId));
        Assert.Equal(["api", "registry-proxy"], spans.Select(s => s.Service).Distinct().Order(StringComparer.Ordinal));

        // Api: server span (child of the client's) → resolve upstream → upstream GET manifest (registry, status) → HttpClient.
        var apiSpans = spans.Where(s => s.Service == "api").ToList();
        var apiServer = Assert.Single(apiSpans, s => s.Kind == DashboardSpan.ServerKind && s.ParentSpanId == postParent);
        var resolve = Assert.Single(apiSpans, s => s.Name == "resolve upstream");
        Assert.Equal(apiServer.SpanId, resolve.ParentSpanId);
        Assert.Equal(registries.Images.BasicPrivate, resolve.Attribute("wave.source.image"));
        AssertUpstream(Assert.Single(apiSpans, s => s.Name == "upstream GET manifest"), resolve, registryHost, apiSpans);
        Assert.Contains(apiSpans, s => IsRedis(s) && Descends(s, apiServer, apiSpans));

        // Proxy, manifest: server span → serve manifest (token, pull id) → augment → upstream GET manifest / blob → HttpClient.
        var proxySpans = spans.Where(s => s.Service == "registry-proxy").ToList();
        var manifestServer = Assert.Single(proxySpans, s => s.Kind == DashboardSpan.ServerKind && s.ParentSpanId == manifestParent);
        var serve = Assert.Single(proxySpans, s => s.Name == "serve manifest");
        Assert.Equal(manifestServer.SpanId, serve.ParentSpanId);
        Assert.Equal(containerToken, serve.Attribute("wave.token"));
        Assert.Equal(trace, serve.Attribute("wave.pull.id"));
        var augment = Assert.Single(proxySpans, s => s.Name == "augment");
        Assert.Equal(serve.SpanId, augment.ParentSpanId);
        Assert.Equal(containerToken, augment.Attribute("wave.token"));
        AssertUpstream(Assert.Single(proxySpans, s => s.Name == "upstream GET manifest"), augment, registryHost, proxySpans);
        Assert.Contains(proxySpans, s => s.Name == "upstream GET blob" && s.ParentSpanId == augment.SpanId); // the config
        // The token's request and computed content live in Redis: its commands are spans of the same trace.
        Assert.Contains(proxySpans, s => IsRedis(s) && Descends(s, manifestServer, proxySpans));

        // Proxy, layer: server span → serve blob (token) → upstream GET blob, streamed.
        var blobServer = Assert.Single(proxySpans, s => s.Kind == DashboardSpan.ServerKind && s.ParentSpanId == blobParent);
        var serveBlob = Assert.Single(proxySpans, s => s.Name == "serve blob");
        Assert.Equal(blobServer.SpanId, serveBlob.ParentSpanId);
        Assert.Equal(containerToken, serveBlob.Attribute("wave.token"));
        Assert.Equal(upstreamLayer, serveBlob.Attribute("wave.registry.reference"));
        AssertUpstream(Assert.Single(proxySpans, s => s.Name == "upstream GET blob" && s.ParentSpanId == serveBlob.SpanId), serveBlob, registryHost, proxySpans);

        // Meters: Wave's (the proxy counts the pull and times the augmentation and upstream operations; the Api its
        // upstream call) and the template's instrumentation (ASP.NET Core, HttpClient, runtime).
        var pull = await metrics.WaitForAsync("registry-proxy", "wave.pulls", m => m.Value >= 1, Diagnostics, Token);
        Assert.Equal("amd64", pull.Attributes["wave.image.architecture"]);
        await metrics.WaitForAsync("registry-proxy", "wave.augmentation.duration", m => m.Count >= 1, Diagnostics, Token);
        await metrics.WaitForAsync("registry-proxy", "wave.upstream.duration",
            m => m.Count >= 1 && m.Attributes.GetValueOrDefault("server.address") == registryHost, Diagnostics, Token);
        await metrics.WaitForAsync("api", "wave.upstream.duration",
            m => m.Count >= 1 && m.Attributes.GetValueOrDefault("server.address") == registryHost, Diagnostics, Token);
        await metrics.WaitForAsync("api", "http.server.request.duration", m => m.Attributes.GetValueOrDefault("http.route") == "/v1alpha2/container", Diagnostics, Token);
        await metrics.WaitForAsync("registry-proxy", "http.client.request.duration", null, Diagnostics, Token);
        Assert.Contains(metrics.Metrics, m => m.Service == "api" && m.Name.StartsWith("dotnet.", StringComparison.Ordinal));
    }

    private static bool IsRedis(DashboardSpan span) => span.Kind == DashboardSpan.ClientKind
        && (span.Attribute("db.system") == "redis" || span.Attribute("db.system.name") == "redis");

    /// <summary>Whether <paramref name="span"/> is under <paramref name="ancestor"/>, through any number of parents.</summary>
    private static bool Descends(DashboardSpan span, DashboardSpan ancestor, IReadOnlyList<DashboardSpan> trace)
    {
        var byId = trace.ToDictionary(s => s.SpanId);
        for (var current = span; current.ParentSpanId is { } parent && byId.TryGetValue(parent, out var next); current = next)
        {
            if (next.SpanId == ancestor.SpanId)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>An upstream operation span under <paramref name="parent"/>, with its registry and status, over at least one HttpClient span.</summary>
    private static void AssertUpstream(DashboardSpan upstream, DashboardSpan parent, string registryHost, IReadOnlyList<DashboardSpan> trace)
    {
        Assert.Equal(parent.SpanId, upstream.ParentSpanId);
        Assert.Equal(DashboardSpan.ClientKind, upstream.Kind);
        Assert.Equal(registryHost, upstream.Attribute("server.address"));
        Assert.Equal("200", upstream.Attribute("http.response.status_code"));
        Assert.False(string.IsNullOrEmpty(upstream.Attribute("wave.registry.repository")));
        Assert.Contains(trace, s => s.ParentSpanId == upstream.SpanId && s.Kind == DashboardSpan.ClientKind && s.Name.StartsWith("GET", StringComparison.Ordinal));
    }

    private static string NewSpanId() => ActivitySpanId.CreateRandom().ToHexString();

    private static async Task<IReadOnlyList<DashboardSpan>> WaitForTraceAsync(AspireDashboard dashboard, string traceId,
        Func<IReadOnlyList<DashboardSpan>, bool> complete, Func<string> diagnostics)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(45);
        while (true)
        {
            var spans = await dashboard.TraceAsync(traceId, Token);
            if (complete(spans))
            {
                // Spans of one request may arrive in separate exports: a quiet moment once complete.
                await Task.Delay(1_000, Token);
                return await dashboard.TraceAsync(traceId, Token);
            }
            Assert.True(DateTime.UtcNow < deadline,
                $"trace {traceId} did not arrive complete at the dashboard; got [{string.Join(", ", spans.Select(s => $"{s.Service}: {s.Name}"))}]\n{diagnostics()}");
            await Task.Delay(200, Token);
        }
    }

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
}
