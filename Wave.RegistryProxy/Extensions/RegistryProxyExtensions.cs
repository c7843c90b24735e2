namespace Microsoft.AspNetCore.Builder;

public static class RegistryProxyExtensions
{
    public static IHostApplicationBuilder AddWaveRegistryProxy(this IHostApplicationBuilder builder) => builder;

    public static IEndpointRouteBuilder MapWaveRegistryProxy(this IEndpointRouteBuilder app) => app;
}
