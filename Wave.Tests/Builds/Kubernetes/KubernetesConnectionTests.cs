using System.Net;

using k8s;
using k8s.Autorest;

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

using Wave.Builder.Kubernetes;
using Wave.Core.Builds;
using Wave.Tests.Infrastructure.Kubernetes;

namespace Wave.Tests.Builds.Kubernetes;

/// <summary>How the backend finds and logs in to the API server (kubeconfig and context, or in-cluster), against the real one.</summary>
public sealed class KubernetesConnectionTests(KubernetesFixture kube) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wave-kube-connection-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<int> CountPodsAsync(KubernetesBuildCluster cluster) =>
        (await cluster.Client.CoreV1.ListNamespacedPodAsync(cluster.Namespace, cancellationToken: TestContext.Current.CancellationToken)).Items.Count;

    [Fact]
    public async Task The_kubeconfig_context_chooses_the_user_and_the_namespace()
    {
        var server = await kube.GetAsync();
        var ns = await server.CreateNamespaceAsync("wave-context");
        var admin = File.ReadAllText(server.KubeconfigPath).Split("token: ")[1].Split('\n')[0].Trim();
        var path = Path.Combine(_dir, "config");
        var ca = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(server.CertificateAuthorityPem));
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            current-context: stranger
            clusters:
            - name: test
              cluster: {"{"}server: "{server.Server}", certificate-authority-data: {ca}{"}"}
            users:
            - name: admin
              user: {"{"}token: {admin}{"}"}
            - name: stranger
              user: {"{"}token: not-a-token-the-server-knows{"}"}
            contexts:
            - name: builds
              context: {"{"}cluster: test, user: admin, namespace: {ns}{"}"}
            - name: stranger
              context: {"{"}cluster: test, user: stranger{"}"}
            """);

        using var builds = KubernetesBuildCluster.Connect(new KubernetesBuildOptions { Connection = "kubeconfig", Kubeconfig = path, Context = "builds" });
        using var current = KubernetesBuildCluster.Connect(new KubernetesBuildOptions { Connection = "kubeconfig", Kubeconfig = path });

        Assert.Equal(ns, builds.Namespace);
        Assert.Equal(0, await CountPodsAsync(builds));
        Assert.Equal("default", current.Namespace);
        var refused = await Assert.ThrowsAsync<HttpOperationException>(() => CountPodsAsync(current));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Response.StatusCode);
        await server.DeleteNamespaceAsync(ns);
    }

    [Fact]
    public async Task In_cluster_uses_the_service_account_token_ca_and_namespace_of_the_pod()
    {
        var server = await kube.GetAsync();
        await using var ns = await BuildNamespace.CreateAsync(kube, "wave-in-cluster");
        var reader = await ns.ServiceAccountAsync("reader", BuildNamespace.Rule("", "pods", "list"));
        File.WriteAllText(Path.Combine(_dir, "token"), reader.AccessToken);
        File.WriteAllText(Path.Combine(_dir, "ca.crt"), server.CertificateAuthorityPem);
        File.WriteAllText(Path.Combine(_dir, "namespace"), ns.Name + "\n");
        var pod = new Dictionary<string, string> { ["KUBERNETES_SERVICE_HOST"] = "127.0.0.1", ["KUBERNETES_SERVICE_PORT"] = $"{server.Server.Port}" };

        using var inCluster = KubernetesBuildCluster.Connect(new KubernetesBuildOptions { Connection = "in-cluster", ServiceAccountPath = _dir }, pod.GetValueOrDefault);
        using var auto = KubernetesBuildCluster.Connect(new KubernetesBuildOptions { ServiceAccountPath = _dir }, pod.GetValueOrDefault);

        Assert.Equal(ns.Name, inCluster.Namespace);
        Assert.Equal(0, await CountPodsAsync(inCluster));
        Assert.Equal(ns.Name, auto.Namespace);
        Assert.Equal(0, await CountPodsAsync(auto));
        // The token is the service account's: what its Role does not allow is refused.
        var refused = await Assert.ThrowsAsync<HttpOperationException>(() => inCluster.Client.CoreV1.ListNamespacedSecretAsync(ns.Name, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(HttpStatusCode.Forbidden, refused.Response.StatusCode);
        Assert.Contains($"system:serviceaccount:{ns.Name}:reader", refused.Response.Content);

        var outside = Assert.Throws<InvalidOperationException>(() => new KubernetesBuildOptions { Connection = "in-cluster", ServiceAccountPath = _dir }.LoadConfiguration(_ => null));
        Assert.Contains("KUBERNETES_SERVICE_HOST", outside.Message);
    }

    [Fact]
    public async Task A_server_certificate_from_another_ca_is_refused()
    {
        var server = await kube.GetAsync();
        using var otherAuthority = new TestCertificates("some-other-ca");
        var configuration = server.ConfigurationFor("whatever");
        configuration.SslCaCerts = [otherAuthority.Authority];
        using var client = new k8s.Kubernetes(configuration);

        await Assert.ThrowsAsync<HttpRequestException>(() => client.CoreV1.ListNamespaceAsync(cancellationToken: TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Options_bind_from_configuration_and_the_backend_resolves()
    {
        var server = await kube.GetAsync();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Wave:Build:Kubernetes:Connection"] = "kubeconfig",
            ["Wave:Build:Kubernetes:Kubeconfig"] = server.KubeconfigPath,
            ["Wave:Build:Kubernetes:Namespace"] = "builds",
            ["Wave:Build:Kubernetes:Image"] = "example/buildkit:custom",
            ["Wave:Build:Kubernetes:Args:0"] = "build",
            ["Wave:Build:Kubernetes:Args:1"] = "--opt=platform={platform}",
            ["Wave:Build:Kubernetes:NodeSelectors:linux/arm64:pool"] = "arm",
            ["Wave:Build:Kubernetes:Requests:cpu"] = "2",
            ["Wave:Build:Kubernetes:WatchTimeout"] = "00:00:30",
        }).Build();
        await using var provider = new ServiceCollection().AddLogging().AddKubernetesBuildBackend(configuration).BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<KubernetesBuildOptions>>().Value;
        var backend = provider.GetRequiredService<KubernetesBuildBackend>();

        Assert.Equal("builds", backend.Namespace);
        Assert.Equal("example/buildkit:custom", options.Image);
        Assert.Equal(TimeSpan.FromSeconds(30), options.WatchTimeout);
        Assert.Equal("arm", BuildManifests.NodeSelector("linux/arm64", options)["pool"]);
        Assert.Equal("amd64", BuildManifests.NodeSelector("linux/amd64", options)["kubernetes.io/arch"]);
        var job = new BuildJob { BuildId = "b", ContainerId = "c", TargetImage = "r/i:t", Dockerfile = "FROM x", Platform = "linux/arm64", CreatedAt = DateTimeOffset.UtcNow };
        Assert.Equal(["build", "--opt=platform=linux/arm64"], BuildManifests.Arguments(job, options));
        Assert.NotEmpty((await provider.GetRequiredService<KubernetesBuildCluster>().Client.CoreV1.ListNamespaceAsync(cancellationToken: TestContext.Current.CancellationToken)).Items);
    }
}
