using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

using Wave.Api.Apis;
using Wave.Api.Builds;
using Wave.Api.Containers;
using Wave.Api.Identity;
using Wave.Api.Inspect;
using Wave.Api.Records;
using Wave.Api.Security;
using Wave.Core.Builds;
using Wave.Core.Requests;
using Wave.Core.Security;

namespace Microsoft.AspNetCore.Builder;

public static class ApiExtensions
{
    public static IHostApplicationBuilder AddWaveApi(this IHostApplicationBuilder builder)
    {
        builder.AddWaveCore();
        builder.Services.Configure<ContainerRequestOptions>(builder.Configuration.GetSection("Wave"));
        builder.Services.AddSingleton<TargetImageHost>();
        builder.Services.AddSingleton<ContainerRequestService>();
        builder.AddWaveBuildStore();
        builder.AddWaveBuildQueue();
        builder.Services.Configure<BuildOptions>(builder.Configuration.GetSection(BuildOptions.Section));
        builder.Services.AddSingleton<BuildService>();
        builder.Services.AddSingleton<ContainerInspector>();
        builder.Services.AddSingleton(services => ServiceCapabilities.For(services.GetRequiredService<IOptions<BuildOptions>>().Value,
            services.GetRequiredService<IOptions<Wave.Core.Mirrors.MirrorOptions>>().Value) with
        {
            Scan = services.GetRequiredService<IOptions<Wave.Core.Scans.ScanOptions>>().Value.Enabled,
        });
        builder.AddWaveMirrors();
        builder.Services.AddMemoryCache();
        builder.Services.Configure<IdentityOptions>(builder.Configuration.GetSection("Wave:Identity"));
        // No cookie container: Platform answers a token refresh with cookies, which must never be shared between users.
        builder.Services.AddHttpClient(PlatformUserClient.HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(20))
            .ConfigurePrimaryHttpMessageHandler(services => new SocketsHttpHandler { UseCookies = false, ConnectCallback = Wave.Core.Security.OutboundConnectionGuard.For(services) });
        builder.Services.AddSingleton<PlatformTokenStore>();
        builder.Services.AddSingleton<PlatformUserClient>();
        builder.Services.AddSingleton<IdentityResolver>();
        builder.Services.AddSingleton<PlatformCredentialsClient>();
        builder.AddWaveContainerRecords();
        builder.Services.AddSingleton<ContainerRecorder>();
        builder.Services.TryAddSingleton<IContainerBuildStatus, BuildStoreContainerBuildStatus>();
        builder.Services.Configure<AdminOptions>(builder.Configuration.GetSection("Wave:Admin"));
        builder.Services.AddOpenApi(LandingPage.OpenApiDocument);
        builder.AddWaveScans();
        return builder;
    }

    public static IEndpointRouteBuilder MapWaveApi(this IEndpointRouteBuilder app)
    {
        app.MapContainerApi();
        app.MapServiceInfoApi();
        app.MapValidateCredentialsApi();
        app.MapInspectApi();
        app.MapMetricsApi();
        app.MapBuildsApi();
        app.MapContainerRecordApi();
        app.MapViewPages();
        app.MapMirrorsApi();
        app.MapMirrorPages();
        app.MapLandingPage();
        app.MapScansApi();
        return app;
    }
}
