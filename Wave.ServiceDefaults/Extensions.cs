using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;

using Wave.ServiceDefaults.Discovery;
using Wave.ServiceDefaults.Health;
using Wave.ServiceDefaults.Telemetry;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Aspire's service defaults contract: telemetry, health, service discovery by configuration, HttpClient defaults.
/// The namespace is Aspire's, so that a service's Program.cs reads the same as with the real package.
/// </summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>The tag of the health checks that say the process is alive (as opposed to ready).</summary>
    public const string AliveTag = "live";

    /// <summary>
    /// Long enough for a registry answering a manifest or a blob's headers under load; blob bodies read with
    /// ResponseHeadersRead are not bounded by it. A named client may set its own.
    /// </summary>
    public static readonly TimeSpan DefaultHttpTimeout = TimeSpan.FromSeconds(60);

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();

        builder.Services.AddTransient<ConfigurationServiceDiscoveryHandler>();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.ConfigureHttpClient(client => client.Timeout = DefaultHttpTimeout);
            http.AddHttpMessageHandler<ConfigurationServiceDiscoveryHandler>();
        });
        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), [AliveTag]);
        return builder;
    }

    /// <summary>/health runs every check (readiness: dependencies included); /alive only those tagged "live".</summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = HealthResponseWriter.WriteAsync });
        app.MapHealthChecks("/alive", new HealthCheckOptions
        {
            Predicate = registration => registration.Tags.Contains(AliveTag),
            ResponseWriter = HealthResponseWriter.WriteAsync,
        });
        return app;
    }
}
