using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Diagnostics.HealthChecks;

using Wave.Core.State;
using Wave.RegistryProxy.Apis;
using Wave.RegistryProxy.Builds;
using Wave.RegistryProxy.Content;
using Wave.RegistryProxy.Pulls;

namespace Microsoft.AspNetCore.Builder;

public static class RegistryProxyExtensions
{
    public static IHostApplicationBuilder AddWaveRegistryProxy(this IHostApplicationBuilder builder)
    {
        builder.AddWaveCore();
        builder.Services.Configure<RegistryProxyOptions>(builder.Configuration.GetSection("Wave:Proxy"));
        builder.Services.AddSingleton<ProxyMemoryCache>();
        builder.Services.AddSingleton<ContainerRequestCache>();
        builder.Services.AddHostedService<ContainerRequestCacheStarter>();
        // Degraded, not Unhealthy, while revocations are not received: the proxy then bypasses its request cache and
        // still answers correctly, only slower, so it stays ready.
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            RevocationsHealthCheck.Name,
            services => new RevocationsHealthCheck(services.GetRequiredService<ContainerRequestCache>(), services.GetRequiredService<IStateNotifications>()),
            failureStatus: HealthStatus.Degraded,
            tags: ["ready"]));
        builder.Services.AddSingleton<UpstreamRegistries>();
        builder.AddWaveContainerRecords();
        builder.Services.AddSingleton<TokenContentStore>();
        builder.Services.AddSingleton<AugmentedImageResolver>();
        builder.Services.AddSingleton<BlobLocator>();
        builder.Services.Configure<BlobCacheOptions>(builder.Configuration.GetSection("Wave:Proxy:BlobCache"));
        builder.Services.PostConfigure<BlobCacheOptions>(cache =>
        {
            if (cache.Directory.Length == 0)
            {
                cache.Directory = Path.Combine(builder.Configuration[BuildStoreExtensions.DataDirectoryKey] ?? BuildStoreExtensions.DefaultDataDirectory, "blob-cache");
            }
        });
        builder.Services.AddSingleton<BlobCache>();
        builder.Services.AddSingleton<PullAccounting>();
        builder.AddWaveBuildStore();
        builder.Services.AddSingleton<BuildWaiter>();
        builder.AddWaveScanStore();
        builder.Services.AddSingleton<Wave.RegistryProxy.Scans.ScanGate>();
        // A cluster starting a pipeline opens hundreds of pulls at once: Kestrel's default accept queue (512) drops
        // the excess connection attempts, which the clients then retry only after a 1 s, 3 s, 7 s back-off. The
        // kernel caps this at net.core.somaxconn.
        builder.Services.Configure<SocketTransportOptions>(sockets => sockets.Backlog = Math.Max(sockets.Backlog, 4096));
        return builder;
    }

    public static IEndpointRouteBuilder MapWaveRegistryProxy(this IEndpointRouteBuilder app)
    {
        app.MapRegistryApi();
        return app;
    }
}
