using Wave.Api.Apis;
using Wave.Api.Containers;

namespace Microsoft.AspNetCore.Builder;

public static class ApiExtensions
{
    public static IHostApplicationBuilder AddWaveApi(this IHostApplicationBuilder builder)
    {
        builder.AddWaveCore();
        builder.Services.Configure<ContainerRequestOptions>(builder.Configuration.GetSection("Wave"));
        builder.Services.AddSingleton<TargetImageHost>();
        builder.Services.AddSingleton<ContainerRequestService>();
        return builder;
    }

    public static IEndpointRouteBuilder MapWaveApi(this IEndpointRouteBuilder app)
    {
        app.MapContainerApi();
        app.MapServiceInfoApi();
        return app;
    }
}
