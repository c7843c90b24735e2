using System.Reflection;
using System.Text.Json;

using Wave.Tests.Infrastructure.Telemetry;

[assembly: AssemblyFixture(typeof(AspireDashboardFixture))]

namespace Wave.Tests.Infrastructure.Telemetry;

/// <summary>
/// The real Aspire dashboard (the standalone executable of the Aspire.Dashboard.Sdk package, the one an AppHost runs)
/// as the OTLP endpoint of the telemetry tests: it receives OTLP over gRPC (what the exporter sends by default) and
/// over HTTP/protobuf, decodes it as it does for any Aspire application, and its telemetry API
/// (<c>/api/telemetry/traces/{traceId}</c>, OTLP JSON) says what it received. Frontend, OTLP and API are unsecured:
/// it listens on loopback ports of this test run only.
/// </summary>
public sealed class AspireDashboard : IAsyncDisposable
{
    private readonly TestProcess _process;
    private readonly HttpClient _http;

    private AspireDashboard(TestProcess process, int frontendPort, int grpcPort, int httpPort)
    {
        _process = process;
        Address = new Uri($"http://127.0.0.1:{frontendPort}/");
        OtlpGrpcEndpoint = new Uri($"http://127.0.0.1:{grpcPort}");
        OtlpHttpEndpoint = new Uri($"http://127.0.0.1:{httpPort}");
        _http = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(10) };
    }

    public Uri Address { get; }
    public Uri OtlpGrpcEndpoint { get; }
    public Uri OtlpHttpEndpoint { get; }
    public string Output => _process.Output;

    public static string Executable
    {
        get
        {
            var directory = typeof(AspireDashboard).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .Single(a => a.Key == "AspireDashboardDirectory").Value!;
            var executable = Path.Combine(directory, "Aspire.Dashboard");
            if (!File.Exists(executable))
            {
                throw new MissingRequirementException(
                    $"the Aspire dashboard is not at {executable}: restore Wave.Tests (its PackageDownload of Aspire.Dashboard.Sdk.linux-x64 brings it)");
            }
            return executable;
        }
    }

    public static async Task<AspireDashboard> StartAsync()
    {
        var (frontend, grpc, http) = (FreePort.Next(), FreePort.Next(), FreePort.Next());
        var process = TestProcess.Start(Executable, [], new Dictionary<string, string?>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{frontend}",
            ["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = $"http://127.0.0.1:{grpc}",
            ["ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] = $"http://127.0.0.1:{http}",
            ["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true",
            ["DASHBOARD__FRONTEND__AUTHMODE"] = "Unsecured",
            ["DASHBOARD__OTLP__AUTHMODE"] = "Unsecured",
            ["DASHBOARD__API__ENABLED"] = "true",
            ["DASHBOARD__API__AUTHMODE"] = "Unsecured",
            ["DOTNET_gcServer"] = "0",
        }, Path.GetDirectoryName(Executable));
        var dashboard = new AspireDashboard(process, frontend, grpc, http);
        foreach (var port in new[] { frontend, grpc, http })
        {
            await FreePort.WaitListeningAsync(port, TimeSpan.FromSeconds(60), () => process.Output);
        }
        return dashboard;
    }

    /// <summary>The spans of one trace the dashboard holds, from every service that sent any (empty when none yet).</summary>
    public async Task<IReadOnlyList<DashboardSpan>> TraceAsync(string traceId, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync($"api/telemetry/traces/{traceId}", cancellationToken);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return [];
        }
        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        return DashboardSpan.Read(document.RootElement.GetProperty("data"));
    }

    /// <summary>The spans the dashboard holds from one service.</summary>
    public async Task<IReadOnlyList<DashboardSpan>> SpansAsync(string service, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync($"api/telemetry/spans?resource={Uri.EscapeDataString(service)}", cancellationToken);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return [];
        }
        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        return DashboardSpan.Read(document.RootElement.GetProperty("data"));
    }

    /// <summary>The log records of one trace, as the API's OTLP JSON text (empty when none).</summary>
    public async Task<string> LogsAsync(string traceId, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync($"api/telemetry/logs?traceId={traceId}", cancellationToken);
        return response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync(cancellationToken) : "";
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _process.DisposeAsync();
    }
}

/// <summary>One span as the dashboard's telemetry API gives it (OTLP JSON: hex ids, kind as a number, string attributes).</summary>
public sealed record DashboardSpan(string Service, string Name, string TraceId, string SpanId, string? ParentSpanId, int Kind,
    IReadOnlyDictionary<string, string> Attributes)
{
    public const int ServerKind = 2;
    public const int ClientKind = 3;

    public string? Attribute(string name) => Attributes.GetValueOrDefault(name);

    public static IReadOnlyList<DashboardSpan> Read(JsonElement data)
    {
        var spans = new List<DashboardSpan>();
        foreach (var resourceSpans in Array(data, "resourceSpans"))
        {
            var service = AttributesOf(resourceSpans.GetProperty("resource")).GetValueOrDefault("service.name") ?? "";
            foreach (var scopeSpans in Array(resourceSpans, "scopeSpans"))
            {
                foreach (var span in Array(scopeSpans, "spans"))
                {
                    var parent = span.TryGetProperty("parentSpanId", out var p) ? p.GetString() : null;
                    spans.Add(new DashboardSpan(service, span.GetProperty("name").GetString()!, span.GetProperty("traceId").GetString()!,
                        span.GetProperty("spanId").GetString()!, string.IsNullOrEmpty(parent) ? null : parent,
                        span.TryGetProperty("kind", out var kind) ? kind.GetInt32() : 0, AttributesOf(span)));
                }
            }
        }
        return spans;
    }

    private static IEnumerable<JsonElement> Array(JsonElement element, string name) =>
        element.TryGetProperty(name, out var array) && array.ValueKind == JsonValueKind.Array ? array.EnumerateArray() : [];

    private static Dictionary<string, string> AttributesOf(JsonElement owner)
    {
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var attribute in Array(owner, "attributes"))
        {
            var value = attribute.GetProperty("value");
            var text = value.EnumerateObject().FirstOrDefault() is { Value: var v } && v.ValueKind != JsonValueKind.Undefined
                ? (v.ValueKind == JsonValueKind.String ? v.GetString() : v.ToString())
                : null;
            attributes[attribute.GetProperty("key").GetString()!] = text ?? "";
        }
        return attributes;
    }
}

/// <summary>The test run's one dashboard, started on first use.</summary>
public sealed class AspireDashboardFixture : IAsyncDisposable
{
    private readonly Lazy<Task<AspireDashboard>> _dashboard = new(AspireDashboard.StartAsync);

    public Task<AspireDashboard> GetAsync() => _dashboard.Value;

    public async ValueTask DisposeAsync()
    {
        if (_dashboard.IsValueCreated && _dashboard.Value.IsCompletedSuccessfully)
        {
            await (await _dashboard.Value).DisposeAsync();
        }
    }
}
