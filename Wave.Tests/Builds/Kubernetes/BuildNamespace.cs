using System.Net;

using k8s;
using k8s.Autorest;
using k8s.Models;

using Microsoft.Extensions.Options;

using Wave.Builder.Kubernetes;
using Wave.Tests.Infrastructure.Kubernetes;

namespace Wave.Tests.Builds.Kubernetes;

/// <summary>
/// A namespace of one test on the suite's API server, where builds run as Jobs and the test kubelet plays their pods.
/// Deleted (with whatever is left in it) when disposed.
/// </summary>
public sealed class BuildNamespace : IAsyncDisposable
{
    private readonly List<IDisposable> _clients = [];

    private BuildNamespace(KubernetesServer server, string name)
    {
        Server = server;
        Name = name;
    }

    public KubernetesServer Server { get; }

    public string Name { get; }

    public IKubernetes Admin => Server.Admin;

    public static async Task<BuildNamespace> CreateAsync(KubernetesFixture fixture, string prefix = "wave-build")
    {
        var server = await fixture.GetAsync();
        return new BuildNamespace(server, await server.CreateNamespaceAsync(prefix));
    }

    /// <summary>A backend that builds in this namespace, as the cluster admin or as <paramref name="as"/>.</summary>
    public KubernetesBuildBackend Backend(KubernetesBuildOptions options, KubernetesClientConfiguration? @as = null)
    {
        var client = new k8s.Kubernetes(@as ?? Server.AdminConfiguration);
        _clients.Add(client);
        return new KubernetesBuildBackend(new KubernetesBuildCluster(client, Name), Options.Create(options));
    }

    /// <summary>The build's Job, Secret and ConfigMap as the server has them now (null when absent), and its pods.</summary>
    public async Task<(V1Job? Job, V1Secret? Secret, V1ConfigMap? ConfigMap, IList<V1Pod> Pods)> ObjectsOfAsync(string buildId)
    {
        var names = KubernetesBuildNames.For(buildId);
        return (
            await OrNullAsync(() => Admin.BatchV1.ReadNamespacedJobAsync(names.Job, Name)),
            await OrNullAsync(() => Admin.CoreV1.ReadNamespacedSecretAsync(names.Secret, Name)),
            await OrNullAsync(() => Admin.CoreV1.ReadNamespacedConfigMapAsync(names.ConfigMap, Name)),
            (await Admin.CoreV1.ListNamespacedPodAsync(Name, labelSelector: names.PodSelector)).Items);
    }

    /// <summary>
    /// Waits (bounded) until nothing of the build is left: no Job, Secret or ConfigMap, and no pod (the garbage
    /// collector deletes a Job's pods shortly after the Job), nor anything else Wave labelled in the namespace.
    /// </summary>
    public async Task AssertBuildObjectsGoneAsync(string buildId)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var (job, secret, configMap, pods) = await ObjectsOfAsync(buildId);
            var labelled = (await Admin.BatchV1.ListNamespacedJobAsync(Name, labelSelector: "app.kubernetes.io/managed-by=wave")).Items.Count
                + (await Admin.CoreV1.ListNamespacedSecretAsync(Name, labelSelector: "app.kubernetes.io/managed-by=wave")).Items.Count
                + (await Admin.CoreV1.ListNamespacedConfigMapAsync(Name, labelSelector: "app.kubernetes.io/managed-by=wave")).Items.Count;
            if (job is null && secret is null && configMap is null && pods.Count == 0 && labelled == 0)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline,
                $"objects of build {buildId} are left in {Name}: job {job?.Metadata.Name}, secret {secret?.Metadata.Name}, configmap {configMap?.Metadata.Name}, " +
                $"pods {string.Join(", ", pods.Select(p => p.Metadata.Name))}, {labelled} labelled objects");
            await Task.Delay(200);
        }
    }

    /// <summary>Whether nothing labelled by Wave was ever created in the namespace (for builds refused up front).</summary>
    public async Task<bool> IsEmptyAsync() =>
        (await Admin.BatchV1.ListNamespacedJobAsync(Name)).Items.Count == 0
        && (await Admin.CoreV1.ListNamespacedSecretAsync(Name, labelSelector: "app.kubernetes.io/managed-by=wave")).Items.Count == 0
        && (await Admin.CoreV1.ListNamespacedConfigMapAsync(Name, labelSelector: "app.kubernetes.io/managed-by=wave")).Items.Count == 0;

    /// <summary>A ServiceAccount of this namespace allowed <paramref name="rules"/> here, and a client configuration with its token.</summary>
    public async Task<KubernetesClientConfiguration> ServiceAccountAsync(string name, params V1PolicyRule[] rules)
    {
        await Admin.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = name } }, Name);
        if (rules.Length > 0)
        {
            await Admin.RbacAuthorizationV1.CreateNamespacedRoleAsync(new V1Role { Metadata = new V1ObjectMeta { Name = name }, Rules = rules }, Name);
            await Admin.RbacAuthorizationV1.CreateNamespacedRoleBindingAsync(new V1RoleBinding
            {
                Metadata = new V1ObjectMeta { Name = name },
                RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "Role", Name = name },
                Subjects = [new Rbacv1Subject { Kind = "ServiceAccount", Name = name, NamespaceProperty = Name }],
            }, Name);
        }
        return Server.ConfigurationFor(await Server.CreateTokenAsync(Name, name), Name);
    }

    public static V1PolicyRule Rule(string apiGroup, string resource, params string[] verbs) =>
        new() { ApiGroups = [apiGroup], Resources = [resource], Verbs = verbs };

    private static async Task<T?> OrNullAsync<T>(Func<Task<T>> read) where T : class
    {
        try
        {
            return await read();
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }
        await Server.DeleteNamespaceAsync(Name);
    }
}
