using System.Net;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Wave.Tests.ServiceDefaults;

public sealed class ServiceDefaultsTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private sealed record OtlpPost(string Path, string? ContentType, byte[] Body);

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

    [Fact]
    public async Task With_an_otlp_endpoint_requests_are_exported_as_traces_metrics_and_logs()
    {
        var received = Channel.CreateUnbounded<OtlpPost>();
        var receiverBuilder = TestApps.Builder();
        await using var receiver = receiverBuilder.Build();
        foreach (var signal in new[] { "/v1/traces", "/v1/metrics", "/v1/logs" })
        {
            receiver.MapPost(signal, async (HttpRequest request) =>
            {
                using var body = new MemoryStream();
                await request.Body.CopyToAsync(body);
                received.Writer.TryWrite(new OtlpPost(request.Path, request.ContentType, body.ToArray()));
                return Results.Ok();
            });
        }
        var collector = await receiver.StartOnLoopbackAsync();

        const string serviceName = "wave-otlp-test-service";
        var builder = TestApps.Builder(new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
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

        Assert.Equal("hi", await http.GetStringAsync("/hello", Token));

        // The server span of /hello ends only after the response was written, so the client can see "hi" before
        // the span exists: flush until every signal has arrived with what this request produced.
        var posts = new List<OtlpPost>();
        bool Arrived(string signal, string text) => posts.Any(p => p.Path == signal && Contains(p.Body, serviceName) && Contains(p.Body, text));
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Token);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        while (!(Arrived("/v1/traces", "/hello") && Arrived("/v1/metrics", serviceName) && Arrived("/v1/logs", "hello was called")))
        {
            app.Services.GetRequiredService<TracerProvider>().ForceFlush(5_000);
            app.Services.GetRequiredService<MeterProvider>().ForceFlush(5_000);
            app.Services.GetRequiredService<LoggerProvider>().ForceFlush(5_000);
            using var pause = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
            pause.CancelAfter(TimeSpan.FromMilliseconds(500));
            try
            {
                while (true)
                {
                    posts.Add(await received.Reader.ReadAsync(pause.Token));
                }
            }
            catch (OperationCanceledException) when (!deadline.IsCancellationRequested)
            {
            }
            catch (OperationCanceledException) when (!Token.IsCancellationRequested)
            {
                Assert.Fail($"after 30 s from {serviceName}: a span of /hello {Arrived("/v1/traces", "/hello")}, metrics {Arrived("/v1/metrics", serviceName)}, the log line {Arrived("/v1/logs", "hello was called")}");
            }
        }
        var traces = posts.First(p => p.Path == "/v1/traces" && Contains(p.Body, "/hello"));
        Assert.Equal("application/x-protobuf", traces.ContentType);
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

    private static bool Contains(byte[] haystack, string needle) => haystack.AsSpan().IndexOf(Encoding.UTF8.GetBytes(needle)) >= 0;
}
