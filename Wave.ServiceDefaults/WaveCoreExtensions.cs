using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

using Wave.Core.Registry;
using Wave.Core.Requests;

namespace Microsoft.Extensions.Hosting;

public static class WaveCoreExtensions
{
    private sealed class WaveCoreMarker;

    /// <summary>
    /// What every Wave service shares: the state store, the registry client with the configured registries
    /// (<c>Wave:Registries</c>), and the container request store. Safe to call from each service in one host.
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
        builder.Services.AddRegistryClient();
        builder.Services.TryAddSingleton<ContainerRequestStore>();
        return builder;
    }
}
