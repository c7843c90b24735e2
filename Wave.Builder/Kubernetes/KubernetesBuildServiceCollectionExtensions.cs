using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Wave.Builder.Kubernetes;

public static class KubernetesBuildServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="KubernetesBuildBackend"/> (not as <c>IBuildBackend</c>: the backend choice is made by
    /// whoever wires the builder) with its options from <c>Wave:Build:Kubernetes</c> and one shared KubernetesClient;
    /// the connection is read on first use, so a builder that never builds on Kubernetes needs no kubeconfig.
    /// </summary>
    public static IServiceCollection AddKubernetesBuildBackend(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<KubernetesBuildOptions>(configuration.GetSection(KubernetesBuildOptions.Section));
        services.AddSingleton(sp => KubernetesBuildCluster.Connect(sp.GetRequiredService<IOptions<KubernetesBuildOptions>>().Value));
        services.AddSingleton<KubernetesBuildBackend>();
        return services;
    }
}
