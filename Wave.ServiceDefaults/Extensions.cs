using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

using Wave.Core.Telemetry;
using Wave.ServiceDefaults.Health;
using Wave.ServiceDefaults.Http;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Aspire's service defaults, as its template writes them: OpenTelemetry (logs, traces and metrics over OTLP), the
/// /health and /alive endpoints, Microsoft.Extensions.ServiceDiscovery, and HttpClient defaults with the standard
/// resilience handler and service discovery. Where Wave departs from the template it says why: telemetry is only
/// collected when it is exported, and the resilience handler is tuned for a registry proxy
/// (<see cref="HttpResilienceDefaults"/>).
/// </summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>The tag of the health checks that say the process is alive (as opposed to ready).</summary>
    public const string AliveTag = "live";

    private const string HealthEndpointPath = "/health";
    private const string AlivenessEndpointPath = "/alive";

    /// <summary>The standard OTLP variable; Aspire sets it for every project it runs.</summary>
    public const string OtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    public const string ServiceNameKey = "OTEL_SERVICE_NAME";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();

        builder.Services.AddServiceDiscovery();
        builder.Services.AddWaveHttpClientDefaults(builder.Configuration);
        return builder;
    }

    /// <summary>
    /// Every HttpClient from the factory: the standard resilience handler (tuned, see <see cref="HttpResilienceDefaults"/>)
    /// and service discovery (<c>http://api</c> goes where <c>services__api__http__0</c> says). Separate from
    /// <see cref="AddServiceDefaults"/> so that a test can build the registry client exactly as a service does.
    /// </summary>
    public static IServiceCollection AddWaveHttpClientDefaults(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddServiceDiscovery();
        services.ConfigureHttpClientDefaults(http =>
        {
            HttpResilienceDefaults.Add(http, configuration.GetSection(HttpResilienceDefaults.Section));
            http.AddServiceDiscovery();
        });
        return services;
    }

    /// <summary>Whether telemetry leaves the process: an OTLP endpoint is configured.</summary>
    public static bool ExportsTelemetry(IConfiguration configuration) =>
        !string.IsNullOrWhiteSpace(configuration[OtlpEndpointKey]);

    /// <summary>
    /// The template's OpenTelemetry setup (AspNetCore, HttpClient and Runtime instrumentation, and Wave's own sources
    /// and meter), exported over OTLP with the exporter's own reading of the OTEL_* variables (protocol grpc, what the
    /// Aspire dashboard receives, unless OTEL_EXPORTER_OTLP_PROTOCOL says http/protobuf; per-signal endpoints too).
    /// Unlike the template, nothing is registered when no endpoint is configured: a tracer provider that exports
    /// nowhere still makes every request record its spans and every Redis command its profile, which the registry
    /// proxy's hot paths (tens of thousands of manifest GETs a second) would pay for nothing. The client integrations
    /// are told the same (their DisableTracing / DisableMetrics settings).
    /// </summary>
    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        if (!ExportsTelemetry(builder.Configuration))
        {
            return builder;
        }
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        var serviceName = ServiceName(builder);
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName, serviceInstanceId: Environment.MachineName + ":" + Environment.ProcessId))
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(WaveTelemetry.Name))
            .WithTracing(tracing => tracing
                .AddSource(WaveTelemetry.Name)
                .AddAspNetCoreInstrumentation(aspNetCore =>
                    // Probes every few seconds are not requests anyone wants to read in a trace.
                    aspNetCore.Filter = context =>
                        !context.Request.Path.StartsWithSegments(HealthEndpointPath)
                        && !context.Request.Path.StartsWithSegments(AlivenessEndpointPath))
                .AddHttpClientInstrumentation())
            .UseOtlpExporter();
        return builder;
    }

    /// <summary>OTEL_SERVICE_NAME, else the application's name.</summary>
    public static string ServiceName(IHostApplicationBuilder builder)
    {
        var configured = builder.Configuration[ServiceNameKey];
        return string.IsNullOrWhiteSpace(configured) ? builder.Environment.ApplicationName : configured;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), [AliveTag]);
        return builder;
    }

    /// <summary>
    /// Gives a client integration's health check the name of the Aspire resource it checks ("StackExchange.Redis"
    /// becomes "redis"), so that /health reads like the application model, and a timeout: the integrations register
    /// theirs without one, and a probe must answer even when a dependency hangs.
    /// </summary>
    public static TBuilder RenameHealthCheck<TBuilder>(this TBuilder builder, string integrationName, string resourceName, TimeSpan? timeout = null)
        where TBuilder : IHostApplicationBuilder
    {
        builder.Services.Configure<HealthCheckServiceOptions>(options =>
        {
            foreach (var registration in options.Registrations.Where(r => r.Name == integrationName))
            {
                registration.Name = resourceName;
                registration.Timeout = timeout ?? TimeSpan.FromSeconds(10);
            }
        });
        return builder;
    }

    /// <summary>
    /// /health runs every check (readiness: dependencies included); /alive only those tagged "live". Both are mapped
    /// in every environment, unlike the template's Development only: Kubernetes probes and the AppHost use them, and
    /// their answer names checks and states, never addresses with credentials or exception details.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealthChecks(HealthEndpointPath, new HealthCheckOptions { ResponseWriter = HealthResponseWriter.WriteAsync });
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions
        {
            Predicate = registration => registration.Tags.Contains(AliveTag),
            ResponseWriter = HealthResponseWriter.WriteAsync,
        });
        return app;
    }
}
