using k8s.Models;

namespace Wave.AppHost.Kubernetes;

/// <summary>The names of the Kubernetes objects others depend on (the kube tests, the README): keep them stable.</summary>
public static class KubernetesNames
{
    public const string Namespace = "wave";
    public const string BuildNamespace = "wave-build";
    public const string ConnectionStringsConfigMap = "wave-connection-strings";
    public const string PasswordsSecret = "wave-passwords";
    public const string PasswordsFile = "passwords.env";
    public const string BuilderServiceAccount = "wave-builder";
}

/// <summary>
/// What the builder's Kubernetes backend does in the build namespace: run Jobs, follow their Pods and logs, hand them
/// registry credentials and build files (a restarted builder replaces the Secret and ConfigMap a dead one left).
/// </summary>
public static class BuilderRole
{
    public static readonly IReadOnlyList<V1PolicyRule> Rules =
    [
        new() { ApiGroups = ["batch"], Resources = ["jobs"], Verbs = ["create", "get", "list", "watch", "delete"] },
        new() { ApiGroups = [""], Resources = ["pods"], Verbs = ["get", "list", "watch"] },
        new() { ApiGroups = [""], Resources = ["pods/log"], Verbs = ["get"] },
        new() { ApiGroups = [""], Resources = ["secrets", "configmaps"], Verbs = ["create", "get", "update", "delete"] },
    ];
}

/// <summary>The pod runs under this service account, bound to a Role with <paramref name="Rules"/> in <paramref name="RoleNamespace"/>.</summary>
public sealed record KubernetesServiceAccountAnnotation(string Name, string RoleNamespace, IReadOnlyList<V1PolicyRule> Rules) : IResourceAnnotation;

/// <summary>An environment variable the resource gets in Kubernetes only (not in the Aspire manifest, whose deployments differ).</summary>
public sealed record KubernetesEnvironmentAnnotation(string Name, string Value) : IResourceAnnotation;

/// <summary>A size-limited emptyDir volume mounted at <paramref name="MountPath"/>: scratch space that lives as long as the pod.</summary>
public sealed record KubernetesScratchVolumeAnnotation(string Name, string MountPath, string SizeLimit) : IResourceAnnotation;

public static class KubernetesResourceExtensions
{
    public static IResourceBuilder<T> WithKubernetesServiceAccount<T>(this IResourceBuilder<T> builder, string name, string roleNamespace, IReadOnlyList<V1PolicyRule> rules)
        where T : IResource =>
        builder.WithAnnotation(new KubernetesServiceAccountAnnotation(name, roleNamespace, rules));

    public static IResourceBuilder<T> WithKubernetesEnvironment<T>(this IResourceBuilder<T> builder, string name, string value) where T : IResource =>
        builder.WithAnnotation(new KubernetesEnvironmentAnnotation(name, value), ResourceAnnotationMutationBehavior.Append);

    public static IResourceBuilder<T> WithKubernetesScratchVolume<T>(this IResourceBuilder<T> builder, string name, string mountPath, string sizeLimit) where T : IResource =>
        builder.WithAnnotation(new KubernetesScratchVolumeAnnotation(name, mountPath, sizeLimit), ResourceAnnotationMutationBehavior.Append);
}
