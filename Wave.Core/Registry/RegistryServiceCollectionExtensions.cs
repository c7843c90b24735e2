using System.Net;

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Wave.Core.Registry;

public static class RegistryServiceCollectionExtensions
{
    /// <summary>The name of the <see cref="HttpClient"/> the registry client uses.</summary>
    public const string HttpClientName = "registry";

    /// <summary>
    /// Registers <see cref="RegistryClient"/> (singleton, so its token cache is shared) on a named HttpClient that
    /// does not follow redirects, and <see cref="ConfiguredRegistryCredentials"/> unless another provider is registered.
    /// The caller binds <see cref="RegistryOptions"/> (section "Wave").
    /// </summary>
    public static IServiceCollection AddRegistryClient(this IServiceCollection services)
    {
        services.AddOptions<RegistryOptions>();
        services.AddHttpClient(HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(100))
            .ConfigurePrimaryHttpMessageHandler(services => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                ConnectTimeout = TimeSpan.FromSeconds(30),
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                AutomaticDecompression = DecompressionMethods.None,
                // Upstreams are named by clients, realms and redirects by upstreams: each connection is held to the policy.
                ConnectCallback = Security.OutboundConnectionGuard.For(services),
            });
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IRegistryCredentialsProvider, ConfiguredRegistryCredentials>();
        services.TryAddSingleton(sp => new RegistryClient(
            sp.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName),
            sp.GetRequiredService<IRegistryCredentialsProvider>(),
            sp.GetRequiredService<IOptions<RegistryOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILogger<RegistryClient>>() ?? NullLogger<RegistryClient>.Instance));
        return services;
    }
}
