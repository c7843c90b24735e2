using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

using Wave.Core.Registry;

namespace Wave.Builder.Sif;

public static class SifServiceCollectionExtensions
{
    /// <summary>Registers <see cref="SifImageBuilder"/> on the registry client's HttpClient (see <see cref="RegistryServiceCollectionExtensions.AddRegistryClient"/>).</summary>
    public static IServiceCollection AddSifImageBuilder(this IServiceCollection services)
    {
        services.AddRegistryClient();
        services.TryAddSingleton(sp => new SifImageBuilder(
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(RegistryServiceCollectionExtensions.HttpClientName),
            sp.GetRequiredService<IOptions<RegistryOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILoggerFactory>()));
        return services;
    }
}
