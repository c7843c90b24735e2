using Microsoft.Extensions.DependencyInjection.Extensions;

using Wave.Builder.Kubernetes;
using Wave.Builder.Local;
using Wave.Builder.Sif;
using Wave.Builder.Worker;
using Wave.Core.Builds;
using Wave.Core.Registry;

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
        builder.Services.AddOptions<BuildLeaseOptions>().Bind(builder.Configuration.GetSection(BuildLeaseOptions.Section))
            .Validate(options =>
            {
                options.Validate();
                return true;
            }).ValidateOnStart();

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

        DecorateWithMultiPlatform(builder.Services);
        DecorateWithSif(builder.Services);

        builder.Services.AddHttpClient(RemoteLayerFetcher.HttpClientName, client => client.Timeout = TimeSpan.FromMinutes(10))
            .ConfigurePrimaryHttpMessageHandler(services => new SocketsHttpHandler { ConnectCallback = Wave.Core.Security.OutboundConnectionGuard.For(services) });
        builder.Services.AddSingleton<RemoteLayerFetcher>();
        builder.Services.AddSingleton<BuildRunner>();
        builder.AddWaveMirrorCopies();
        builder.Services.AddHostedService<BuildRecovery>();
        builder.Services.AddHostedService<BuildWorker>();
        builder.Services.AddHostedService<StalledBuildSweeper>();
        return builder;
    }

    /// <summary>
    /// Wraps the registered <see cref="IBuildBackend"/> in a <see cref="SifBuildBackend"/>, so that <c>format: sif</c>
    /// jobs are built with it and then converted to SIF in this process.
    /// </summary>
    private static void DecorateWithSif(IServiceCollection services)
    {
        services.AddSifImageBuilder();
        var registered = services.Last(d => d.ServiceType == typeof(IBuildBackend));
        services.Remove(registered);
        services.AddSingleton<IBuildBackend>(provider => new SifBuildBackend(
            Resolve(provider, registered),
            provider.GetRequiredService<SifImageBuilder>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILogger<SifBuildBackend>>()));
    }

    /// <summary>
    /// Wraps the registered <see cref="IBuildBackend"/> in a <see cref="MultiPlatformBuildBackend"/>, so that a job for
    /// several platforms runs as one build per platform on it and ends with their image index.
    /// </summary>
    private static void DecorateWithMultiPlatform(IServiceCollection services)
    {
        services.AddRegistryClient();
        var registered = services.Last(d => d.ServiceType == typeof(IBuildBackend));
        services.Remove(registered);
        services.AddSingleton<IBuildBackend>(provider => new MultiPlatformBuildBackend(
            Resolve(provider, registered),
            provider.GetRequiredService<Wave.Core.Registry.RegistryClient>(),
            provider.GetRequiredService<Wave.Core.Registry.IRegistryCredentialsProvider>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILogger<MultiPlatformBuildBackend>>()));
    }

    private static IBuildBackend Resolve(IServiceProvider provider, ServiceDescriptor descriptor) => (IBuildBackend)(
        descriptor.ImplementationInstance
        ?? descriptor.ImplementationFactory?.Invoke(provider)
        ?? ActivatorUtilities.CreateInstance(provider, descriptor.ImplementationType!));

    public static IEndpointRouteBuilder MapWaveBuilder(this IEndpointRouteBuilder app) => app;
}
