using System.Diagnostics;
using System.Net;
using System.Text.Json;

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

using Wave.Tests.Infrastructure.Telemetry;

namespace Wave.Tests.ServiceDefaults;

public sealed class ServiceDefaultsTests(AspireDashboardFixture dashboardFixture)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Health_and_alive_answer_200_with_json()
    {
        var builder = TestApps.Builder();
        builder.AddServiceDefaults();
        builder.Services.AddHealthChecks().AddCheck("dependency", () => Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy("reachable"));
        await using var app = builder.Build();
        app.MapDefaultEndpoints();
        var address = await app.StartOnLoopbackAsync();
        using var http = new HttpClient { BaseAddress = address };

        using var health = await http.GetAsync("/health", Token);
        using var alive = await http.GetAsync("/alive", Token);

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        var healthChecks = JsonDocument.Parse(await health.Content.ReadAsStringAsync(Token)).RootElement.GetProperty("checks");
        var aliveChecks = JsonDocument.Parse(await alive.Content.ReadAsStringAsync(Token)).RootElement.GetProperty("checks");
        Assert.Equal(["dependency", "self"], healthChecks.EnumerateObject().Select(c => c.Name));
        Assert.Equal(["self"], aliveChecks.EnumerateObject().Select(c => c.Name));
        Assert.Equal("reachable", healthChecks.GetProperty("dependency").GetProperty("description").GetString());
    }

    [Fact]
    public async Task An_unhealthy_dependency_fails_health_but_not_alive()
    {
        var builder = TestApps.Builder();
        builder.AddServiceDefaults();
        builder.Services.AddHealthChecks().AddCheck("down", () => Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Unhealthy("unreachable"));
        await using var app = builder.Build();
        app.MapDefaultEndpoints();
        using var http = new HttpClient { BaseAddress = await app.StartOnLoopbackAsync() };

        using var health = await http.GetAsync("/health", Token);
        using var alive = await http.GetAsync("/alive", Token);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        Assert.Equal("Unhealthy", JsonDocument.Parse(await health.Content.ReadAsStringAsync(Token)).RootElement.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
    }

    [Theory]
    [InlineData("grpc")]
    [InlineData("http/protobuf")]
    public async Task With_an_otlp_endpoint_requests_are_exported_as_traces_logs_and_metrics_over_the_protocol_configured(string protocol)
    {
        var dashboard = await dashboardFixture.GetAsync();
        await using var metrics = await OtlpMetricsReceiver.StartAsync();
        var serviceName = $"wave-otlp-test-{protocol.Replace('/', '-')}-{Guid.NewGuid():N}";
        var builder = TestApps.Builder(new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = (protocol == "grpc" ? dashboard.OtlpGrpcEndpoint : dashboard.OtlpHttpEndpoint).ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = protocol,
            ["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] = metrics.MetricsEndpoint.ToString(),
            ["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
            ["OTEL_BLRP_SCHEDULE_DELAY"] = "200",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
            ["OTEL_SERVICE_NAME"] = serviceName,
        });
        builder.AddServiceDefaults();
        await using var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapGet("/hello", (ILogger<ServiceDefaultsTests> logger) =>
        {
            logger.LogInformation("hello was called");
            return "hi";
        });
        using var http = new HttpClient { BaseAddress = await app.StartOnLoopbackAsync() };
        // This process's HttpClient is traced too (the instrumentation is process-wide): the request is sent under a
        // parent of a known trace, which its client span and the server span continue.
        var trace = ActivityTraceId.CreateRandom().ToHexString();
        using (var client = new Activity("test client"))
        {
            client.SetParentId(ActivityTraceId.CreateFromString(trace), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
            client.Start();
            Assert.Equal("hi", await http.GetStringAsync("/hello", Token));
        }
        using (var probe = await http.GetAsync("/health", Token))
        {
            Assert.Equal(HttpStatusCode.OK, probe.StatusCode);
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        IReadOnlyList<DashboardSpan> spans;
        while (!(spans = await dashboard.TraceAsync(trace, Token)).Any(s => s.Service == serviceName && s.Kind == DashboardSpan.ServerKind))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no span of /hello from {serviceName} at the dashboard over {protocol}; its spans: [{string.Join(", ", (await dashboard.SpansAsync(serviceName, Token)).Select(s => $"{s.Name} {s.TraceId}"))}], metrics [{string.Join(", ", metrics.Metrics.Select(m => m.Service + ":" + m.Name).Distinct())}]\n{dashboard.Output}");
            await Task.Delay(200, Token);
        }
        Assert.Equal("/hello", Assert.Single(spans, s => s.Kind == DashboardSpan.ServerKind).Attribute("http.route"));
        while (!(await dashboard.LogsAsync(trace, Token)).Contains("hello was called", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the log line of /hello did not reach the dashboard over {protocol}");
            await Task.Delay(200, Token);
        }
        await metrics.WaitForAsync(serviceName, "http.server.request.duration", m => m.Attributes.GetValueOrDefault("http.route") == "/hello", () => "", Token);
        // Health probes are served but not traced: a trace per probe every few seconds is noise.
        Assert.DoesNotContain(await dashboard.SpansAsync(serviceName, Token), s => s.Attribute("url.path") == "/health");
    }

    [Fact]
    public async Task Http_clients_reach_services_by_name_through_configuration()
    {
        var targetBuilder = TestApps.Builder();
        await using var target = targetBuilder.Build();
        target.MapGet("/hello", (HttpRequest request) => $"hi from target {request.Path}{request.QueryString}");
        var targetAddress = await target.StartOnLoopbackAsync();

        var builder = TestApps.Builder(new Dictionary<string, string?> { ["services:target:http:0"] = targetAddress.ToString() });
        builder.AddServiceDefaults();
        builder.Services.AddHttpClient("named", client => client.BaseAddress = new Uri("https+http://target"));
        await using var app = builder.Build();
        var clients = app.Services.GetRequiredService<IHttpClientFactory>();

        using var plain = clients.CreateClient();
        using var named = clients.CreateClient("named");

        Assert.Equal("hi from target /hello?a=1", await plain.GetStringAsync("http://target/hello?a=1", Token));
        Assert.Equal("hi from target /hello", await named.GetStringAsync("/hello", Token));
    }
}
