using k8s;
using k8s.Models;

using Wave.Tests.Infrastructure.Kubernetes;

[assembly: AssemblyFixture(typeof(KubernetesFixture))]

namespace Wave.Tests.Infrastructure.Kubernetes;

/// <summary>
/// The test run's one Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager), started on first use
/// so that a machine without the binaries fails only the tests that need it. Tests share it: each works in
/// namespaces of its own (<see cref="KubernetesServer.CreateNamespaceAsync"/>) and never stops it.
/// </summary>
public sealed class KubernetesFixture : IAsyncDisposable
{
    private readonly Lazy<Task<KubernetesServer>> _server = new(KubernetesServer.StartAsync);

    public Task<KubernetesServer> GetAsync() => _server.Value;

    public async ValueTask DisposeAsync()
    {
        if (_server.IsValueCreated && _server.Value.IsCompletedSuccessfully)
        {
            await (await _server.Value).DisposeAsync();
        }
    }
}

/// <summary>
/// A real API server and controller manager on loopback, with RBAC, service-account tokens and every controller
/// (Jobs create Pods, Deployments ReplicaSets, namespaces are cleaned up). There is no scheduler and no kubelet:
/// <see cref="Kubelet"/> plays the nodes for the namespaces a test asks it to.
/// </summary>
public sealed class KubernetesServer : IAsyncDisposable
{
    private readonly Func<Task> _stop;

    private KubernetesServer(string directory, string kubeconfigPath, Func<Task> stop)
    {
        Directory = directory;
        KubeconfigPath = kubeconfigPath;
        _stop = stop;
        AdminConfiguration = KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfigPath);
        Admin = new k8s.Kubernetes(AdminConfiguration);
        Server = new Uri(AdminConfiguration.Host);
    }

    /// <summary>The folder of the control plane's state, certificates and logs.</summary>
    public string Directory { get; }

    /// <summary>A kubeconfig of the cluster admin (token auth, the cluster's CA).</summary>
    public string KubeconfigPath { get; }

    public KubernetesClientConfiguration AdminConfiguration { get; }

    public IKubernetes Admin { get; }

    public Uri Server { get; }

    /// <summary>The PEM of the CA the API server's certificate chains to.</summary>
    public string CertificateAuthorityPem => AdminConfiguration.SslCaCerts!.ExportCertificatePems();

    public TestKubelet Kubelet { get; private set; } = null!;

    public static async Task<KubernetesServer> StartAsync()
    {
        var assets = KubeAssets.Find();
        var directory = System.IO.Directory.CreateTempSubdirectory("kube-").FullName;
        KubernetesServer server;
        if (File.Exists(Path.Combine(assets, "start-kube.sh")))
        {
            var output = await TestProcess.RunAsync("bash", [Path.Combine(assets, "start-kube.sh"), directory], TimeSpan.FromMinutes(5));
            var kubeconfig = output.Trim().Split('\n')[^1];
            server = new KubernetesServer(directory, kubeconfig, () => TestProcess.RunAsync("bash", [Path.Combine(assets, "stop-kube.sh"), directory], TimeSpan.FromMinutes(2)));
        }
        else
        {
            // Binaries only (downloaded by scripts/test.sh): start them here, the way envtest does.
            var plane = await ControlPlane.StartAsync(assets, directory);
            server = new KubernetesServer(directory, plane.KubeconfigPath, async () => await plane.DisposeAsync());
        }
        server.Kubelet = await TestKubelet.StartAsync(server.Admin);
        return server;
    }

    /// <summary>A new namespace of the test's own, once its <c>default</c> ServiceAccount exists (pods need it).</summary>
    public async Task<string> CreateNamespaceAsync(string prefix)
    {
        var name = $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(63, prefix.Length + 9)];
        await Admin.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = name } });
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while ((await Admin.CoreV1.ListNamespacedServiceAccountAsync(name, fieldSelector: "metadata.name=default")).Items.Count == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the controller manager did not create the default ServiceAccount of {name}; see {Directory}/logs");
            await Task.Delay(100);
        }
        return name;
    }

    /// <summary>Deletes a namespace; the namespace controller removes what is left in it.</summary>
    public async Task DeleteNamespaceAsync(string name)
    {
        try
        {
            await Admin.CoreV1.DeleteNamespaceAsync(name);
        }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
        }
    }

    /// <summary>A token of a ServiceAccount from the TokenRequest API, as a pod's projected token is made.</summary>
    public async Task<string> CreateTokenAsync(string @namespace, string serviceAccount)
    {
        var request = await Admin.CoreV1.CreateNamespacedServiceAccountTokenAsync(
            new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec { ExpirationSeconds = 3600, Audiences = [] } }, serviceAccount, @namespace);
        return request.Status.Token;
    }

    /// <summary>A client configuration for this server that authenticates with <paramref name="token"/>.</summary>
    public KubernetesClientConfiguration ConfigurationFor(string token, string? @namespace = null) => new()
    {
        Host = AdminConfiguration.Host,
        SslCaCerts = AdminConfiguration.SslCaCerts,
        AccessToken = token,
        Namespace = @namespace,
    };

    /// <summary>A kubeconfig file for this server that authenticates with <paramref name="token"/>.</summary>
    public string WriteKubeconfig(string folder, string token, string? @namespace = null)
    {
        var path = Path.Combine(folder, "kubeconfig-" + Guid.NewGuid().ToString("N")[..8]);
        var ca = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(CertificateAuthorityPem));
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: test
              cluster:
                server: {Server}
                certificate-authority-data: {ca}
            users:
            - name: test
              user:
                token: {token}
            contexts:
            - name: test
              context:
                cluster: test
                user: test
                {(@namespace is null ? "" : $"namespace: {@namespace}")}
            current-context: test
            """);
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        await Kubelet.DisposeAsync();
        Admin.Dispose();
        await _stop();
    }
}

/// <summary>Where the Kubernetes binaries for the tests are.</summary>
public static class KubeAssets
{
    public const string Variable = "WAVE_TEST_KUBE_ASSETS";

    /// <summary>
    /// <c>$WAVE_TEST_KUBE_ASSETS</c>, else <c>../shared/kube</c> beside the repository, else <c>/work/shared/kube</c>:
    /// the first that holds kube-apiserver and kube-controller-manager.
    /// </summary>
    public static string Find()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } configured)
        {
            candidates.Add(configured);
        }
        candidates.Add(Path.Combine(RepositoryRoot(), "..", "shared", "kube"));
        candidates.Add("/work/shared/kube");
        foreach (var candidate in candidates)
        {
            if (File.Exists(Path.Combine(candidate, "kube-apiserver")) && File.Exists(Path.Combine(candidate, "kube-controller-manager")))
            {
                return Path.GetFullPath(candidate);
            }
        }
        throw new MissingRequirementException(
            $"no Kubernetes control plane binaries (kube-apiserver and kube-controller-manager v1.24) in any of {string.Join(", ", candidates)}: " +
            $"run scripts/test.sh (it downloads them from dl.k8s.io when missing), or set {Variable} to a folder holding them (and etcd from `apt-get install -y etcd-server`)");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Wave.sln")))
            {
                return dir.FullName;
            }
        }
        return AppContext.BaseDirectory;
    }
}
