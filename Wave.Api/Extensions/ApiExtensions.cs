namespace Microsoft.AspNetCore.Builder;

public static class ApiExtensions
{
    public static IHostApplicationBuilder AddWaveApi(this IHostApplicationBuilder builder) => builder;

    public static IEndpointRouteBuilder MapWaveApi(this IEndpointRouteBuilder app) => app;
}
