using Wave.Builder.Kubernetes;
using Wave.Builder.Local;
using Wave.Builder.Worker;
using Wave.Core.Builds;

namespace Microsoft.AspNetCore.Builder;

public static class BuilderExtensions
{
    /// <summary>Configuration key of the build backend: <c>local</c> (buildah on this machine, the default) or <c>kubernetes</c>.</summary>
    public const string BackendKey = "Wave:Build:Backend";

    public static IHostApplicationBuilder AddWaveBuilder(this IHostApplicationBuilder builder)
    {
        builder.AddWaveCore();
        builder.AddWaveBuildStore();
        builder.AddWaveBuildQueue();
        builder.Services.Configure<BuildOptions>(builder.Configuration.GetSection(BuildOptions.Section));
        builder.Services.Configure<StalledBuildOptions>(builder.Configuration.GetSection("Wave:Build:Stalled"));

        var backend = builder.Configuration[BackendKey] ?? "local";
        switch (backend.ToLowerInvariant())
        {
            case "local":
                builder.Services.AddLocalBuildBackend(builder.Configuration);
                break;
            case "kubernetes":
                builder.Services.AddKubernetesBuildBackend(builder.Configuration);
                builder.Services.AddSingleton<IBuildBackend>(services => services.GetRequiredService<KubernetesBuildBackend>());
                break;
            default:
                throw new InvalidOperationException($"{BackendKey} '{backend}' is not a build backend: use local or kubernetes");
        }

        builder.Services.AddHttpClient(RemoteLayerFetcher.HttpClientName, client => client.Timeout = TimeSpan.FromMinutes(10));
        builder.Services.AddSingleton<RemoteLayerFetcher>();
        builder.Services.AddSingleton<BuildRunner>();
        builder.Services.AddHostedService<BuildRecovery>();
        builder.Services.AddHostedService<BuildWorker>();
        builder.Services.AddHostedService<StalledBuildSweeper>();
        return builder;
    }

    public static IEndpointRouteBuilder MapWaveBuilder(this IEndpointRouteBuilder app) => app;
}
