using Wave.Core.Requests;
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
        builder.Services.AddSingleton<ITokenRevocationObserver>(services => services.GetRequiredService<ContainerRequestCache>());
        builder.Services.AddSingleton<UpstreamRegistries>();
        builder.AddWaveContainerRecords();
        builder.Services.AddSingleton<TokenContentStore>();
        builder.Services.AddSingleton<AugmentedImageResolver>();
        builder.Services.AddSingleton<BlobLocator>();
        builder.Services.AddSingleton<PullAccounting>();
        builder.AddWaveBuildStore();
        builder.Services.AddSingleton<BuildWaiter>();
        return builder;
    }

    public static IEndpointRouteBuilder MapWaveRegistryProxy(this IEndpointRouteBuilder app)
    {
        app.MapRegistryApi();
        return app;
    }
}
