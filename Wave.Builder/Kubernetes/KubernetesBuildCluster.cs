using k8s;

namespace Wave.Builder.Kubernetes;

/// <summary>The KubernetesClient of the build backend and the namespace its builds run in.</summary>
public sealed class KubernetesBuildCluster(IKubernetes client, string @namespace) : IDisposable
{
    public IKubernetes Client { get; } = client;

    public string Namespace { get; } = @namespace;

    /// <summary>A client for what <paramref name="options"/> describe; builds run in its namespace, else <c>default</c>.</summary>
    public static KubernetesBuildCluster Connect(KubernetesBuildOptions options, Func<string, string?>? environment = null)
    {
        var configuration = options.LoadConfiguration(environment);
        return new KubernetesBuildCluster(new k8s.Kubernetes(configuration), configuration.Namespace is { Length: > 0 } ns ? ns : "default");
    }

    public void Dispose() => Client.Dispose();
}
