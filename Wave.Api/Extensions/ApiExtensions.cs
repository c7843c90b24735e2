using Wave.Api.Apis;
using Wave.Api.Containers;
using Wave.Api.Inspect;
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
        builder.Services.AddSingleton<ContainerInspector>();
        builder.Services.Configure<NetworkTargetOptions>(builder.Configuration.GetSection("Wave:Security"));
        builder.Services.AddSingleton<NetworkTargetPolicy>();
        return builder;
    }

    public static IEndpointRouteBuilder MapWaveApi(this IEndpointRouteBuilder app)
    {
        app.MapContainerApi();
        app.MapServiceInfoApi();
        app.MapValidateCredentialsApi();
        app.MapInspectApi();
        return app;
    }
}
