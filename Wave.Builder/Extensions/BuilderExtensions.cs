using Wave.Builder.Worker;

namespace Microsoft.AspNetCore.Builder;

public static class BuilderExtensions
{
    public static IHostApplicationBuilder AddWaveBuilder(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHostedService<BuildWorker>();
        return builder;
    }

    public static IEndpointRouteBuilder MapWaveBuilder(this IEndpointRouteBuilder app) => app;
}
