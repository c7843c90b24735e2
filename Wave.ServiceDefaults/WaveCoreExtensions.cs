using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

using Wave.Core.Metrics;
using Wave.Core.RateLimits;
using Wave.Core.Registry;
using Wave.Core.Requests;
using Wave.Core.Security;

namespace Microsoft.Extensions.Hosting;

public static class WaveCoreExtensions
{
    private sealed class WaveCoreMarker;

    /// <summary>
    /// What every Wave service shares: the state store, the outbound-address policy, the registry client with the
    /// configured registries (<c>Wave:Registries</c>), the container request store, rate limits and usage metrics.
    /// Safe to call from each service in one host.
    /// </summary>
    public static IHostApplicationBuilder AddWaveCore(this IHostApplicationBuilder builder)
    {
        if (builder.Services.Any(d => d.ServiceType == typeof(WaveCoreMarker)))
        {
            return builder;
        }
        builder.Services.AddSingleton<WaveCoreMarker>();
        builder.AddWaveState();
        builder.Services.Configure<RegistryOptions>(builder.Configuration.GetSection("Wave"));
        builder.AddWaveNetworkPolicy();
        builder.Services.AddRegistryClient();
        builder.Services.TryAddSingleton<ContainerRequestStore>();
        builder.Services.Configure<CredentialSealerOptions>(builder.Configuration.GetSection("Wave:Security"));
        builder.Services.TryAddSingleton<CredentialSealer>();
        builder.Services.Configure<RateLimitOptions>(builder.Configuration.GetSection("Wave:RateLimits"));
        builder.Services.TryAddSingleton<RateLimiter>();
        builder.Services.Configure<MetricsOptions>(builder.Configuration.GetSection("Wave:Metrics"));
        builder.Services.TryAddSingleton<UsageMetrics>();
        return builder;
    }
}
