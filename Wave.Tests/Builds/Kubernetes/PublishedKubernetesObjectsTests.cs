using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

using k8s;
using k8s.Autorest;
using k8s.Models;

using Wave.Builder.Kubernetes;
using Wave.Core.Builds;
using Wave.Core.Registry;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Kubernetes;

using YamlDotNet.Serialization;

namespace Wave.Tests.Builds.Kubernetes;

/// <summary>
/// The committed Kubernetes objects (<c>aspire-manifest/k8s</c>, rendered by <c>kubectl kustomize</c> from a temporary
/// copy with a generated <c>passwords.env</c>), applied once to the suite's API server with <c>kubectl apply</c>.
/// </summary>
public sealed partial class PublishedObjects : IAsyncLifetime
{
    private readonly KubernetesFixture _kube;
    private readonly string _copy = Directory.CreateTempSubdirectory("wave-published-k8s-").FullName;

    public PublishedObjects(KubernetesFixture kube) => _kube = kube;

    public KubernetesServer Server { get; private set; } = null!;

    /// <summary>Every rendered object: kind, namespace (null for cluster-scoped ones) and name.</summary>
    public IReadOnlyList<(string Kind, string? Namespace, string Name)> Objects { get; private set; } = [];

    /// <summary>What <c>kubectl apply</c> said about each object.</summary>
    public string ApplyOutput { get; private set; } = "";

    /// <summary>The rendered objects as YAML documents.</summary>
    public IReadOnlyList<Dictionary<object, object>> Documents { get; private set; } = [];

    public async ValueTask InitializeAsync()
    {
        Server = await _kube.GetAsync();
        var kubectl = Requirements.Binary("kubectl", "kubectl");
        var committed = Path.Combine(RepositoryRoot(), "aspire-manifest", "k8s");
        foreach (var file in Directory.GetFiles(committed, "*.yaml"))
        {
            File.Copy(file, Path.Combine(_copy, Path.GetFileName(file)));
        }
        // The publisher writes passwords.env (git-ignored); this copy gets passwords of its own for every key the
        // objects read from the generated Secret.
        var keys = Directory.GetFiles(_copy, "*.yaml").SelectMany(f => SecretKey().Matches(File.ReadAllText(f)).Select(m => m.Groups["key"].Value)).Distinct().Order(StringComparer.Ordinal);
        File.WriteAllLines(Path.Combine(_copy, "passwords.env"), keys.Select(key => $"{key}={Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))}"));

        var rendered = await TestProcess.RunAsync(kubectl, ["kustomize", _copy], TimeSpan.FromMinutes(1));
        var renderedFile = Path.Combine(_copy, "rendered.yaml");
        File.WriteAllText(renderedFile, rendered);
        var yaml = new DeserializerBuilder().Build();
        Documents = [.. rendered.Split("\n---\n").Select(d => yaml.Deserialize<Dictionary<object, object>>(d))];
        Objects = [.. Documents.Select(d =>
        {
            var metadata = (Dictionary<object, object>)d["metadata"];
            return ((string)d["kind"], metadata.TryGetValue("namespace", out var ns) ? (string?)ns : null, (string)metadata["name"]);
        })];
        // Client-side schema validation against the server's OpenAPI (kubectl's default), then the server's own.
        ApplyOutput = await TestProcess.RunAsync(kubectl, ["apply", "--kubeconfig", Server.KubeconfigPath, "-f", renderedFile], TimeSpan.FromMinutes(2));
        // Pods (of the build Jobs too) are admitted only once their namespace's default ServiceAccount exists.
        foreach (var ns in Objects.Where(o => o.Kind == "Namespace").Select(o => o.Name))
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while ((await Server.Admin.CoreV1.ListNamespacedServiceAccountAsync(ns, fieldSelector: "metadata.name=default")).Items.Count == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, $"no default ServiceAccount in {ns}");
                await Task.Delay(100);
            }
        }
    }

    public string? BuilderEnvironment(string name)
    {
        var deployment = Documents.Single(d => (string)d["kind"] == "Deployment" && (string)((Dictionary<object, object>)d["metadata"])["name"] == "builder");
        var container = (Dictionary<object, object>)((List<object>)At(deployment, "spec", "template", "spec", "containers"))[0];
        return ((List<object>)container["env"]).Cast<Dictionary<object, object>>().FirstOrDefault(e => (string)e["name"] == name)?["value"] as string;
    }

    public static object At(Dictionary<object, object> node, params string[] path) =>
        path.Aggregate((object)node, (current, key) => ((Dictionary<object, object>)current)[key]);

    public async ValueTask DisposeAsync()
    {
        foreach (var ns in Objects.Where(o => o.Kind == "Namespace").Select(o => o.Name))
        {
            await Server.DeleteNamespaceAsync(ns);
        }
        Directory.Delete(_copy, recursive: true);
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
        throw new InvalidOperationException($"no Wave.sln above {AppContext.BaseDirectory}");
    }

    // A secretKeyRef names the Secret and the key in either order (KubernetesClient's serializer writes key first).
    [GeneratedRegex(@"name: wave-passwords\s+key: (?<key>\S+)|key: (?<key>\S+)\s+name: wave-passwords")]
    private static partial Regex SecretKey();
}

/// <summary>
/// The published objects on a real API server: all accepted, the controllers act on them, and the builder's
/// ServiceAccount can do what a build needs in the build namespace, and nothing elsewhere (RBAC as the server enforces it).
/// </summary>
public sealed class PublishedKubernetesObjectsTests(PublishedObjects published) : IClassFixture<PublishedObjects>
{
    private const string BuilderServiceAccount = "wave-builder";

    private IKubernetes Admin => published.Server.Admin;

    [Fact]
    public async Task Every_published_object_is_accepted_and_the_deployments_get_replica_sets_and_pods()
    {
        Assert.Contains(published.Objects, o => o.Kind == "Deployment");
        foreach (var (kind, ns, name) in published.Objects)
        {
            Assert.Matches($"(?m)^{Regex.Escape(kind.ToLowerInvariant())}[./].*{Regex.Escape(name)} (created|configured|unchanged)$", published.ApplyOutput);
        }
        foreach (var (_, ns, name) in published.Objects.Where(o => o.Kind == "Deployment"))
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
            while (true)
            {
                var deployment = await Admin.AppsV1.ReadNamespacedDeploymentAsync(name, ns, cancellationToken: TestContext.Current.CancellationToken);
                var replicaSets = (await Admin.AppsV1.ListNamespacedReplicaSetAsync(ns!, cancellationToken: TestContext.Current.CancellationToken)).Items
                    .Where(r => r.Metadata.OwnerReferences?.Any(o => o.Uid == deployment.Metadata.Uid) == true).ToList();
                var pods = (await Admin.CoreV1.ListNamespacedPodAsync(ns!, cancellationToken: TestContext.Current.CancellationToken)).Items
                    .Where(p => p.Metadata.OwnerReferences?.Any(o => replicaSets.Any(r => r.Metadata.Uid == o.Uid)) == true).ToList();
                if (replicaSets.Count > 0 && pods.Count >= (deployment.Spec.Replicas ?? 1))
                {
                    Assert.All(pods, p => Assert.Equal(deployment.Spec.Template.Spec.ServiceAccountName ?? "default", p.Spec.ServiceAccountName));
                    break;
                }
                Assert.True(DateTime.UtcNow < deadline, $"Deployment {ns}/{name} has {replicaSets.Count} ReplicaSets and {pods.Count} pods; see {published.Server.Directory}/logs");
                await Task.Delay(200, TestContext.Current.CancellationToken);
            }
        }
    }

    [Fact]
    public async Task The_builder_service_account_may_run_builds_in_the_build_namespace_and_nothing_elsewhere()
    {
        var serviceAccount = published.Objects.Single(o => o.Kind == "ServiceAccount" && o.Name == BuilderServiceAccount);
        var buildNamespace = published.BuilderEnvironment("Wave__Build__Kubernetes__Namespace")!;
        Assert.Equal("in-cluster", published.BuilderEnvironment("Wave__Build__Kubernetes__Connection"));
        var server = published.Server;

        // The builder as its pod would run: in-cluster, with a token of its ServiceAccount.
        var serviceAccountFolder = Directory.CreateTempSubdirectory("wave-builder-sa-").FullName;
        File.WriteAllText(Path.Combine(serviceAccountFolder, "token"), await server.CreateTokenAsync(serviceAccount.Namespace!, serviceAccount.Name));
        File.WriteAllText(Path.Combine(serviceAccountFolder, "ca.crt"), server.CertificateAuthorityPem);
        File.WriteAllText(Path.Combine(serviceAccountFolder, "namespace"), serviceAccount.Namespace);
        var pod = new Dictionary<string, string> { ["KUBERNETES_SERVICE_HOST"] = "127.0.0.1", ["KUBERNETES_SERVICE_PORT"] = $"{server.Server.Port}" };
        KubernetesBuildOptions Options(string ns) => new()
        {
            Connection = "in-cluster",
            ServiceAccountPath = serviceAccountFolder,
            Namespace = ns,
            PollInterval = TimeSpan.FromMilliseconds(100),
        };
        using var cluster = KubernetesBuildCluster.Connect(Options(buildNamespace), pod.GetValueOrDefault);
        var backend = new KubernetesBuildBackend(cluster, Microsoft.Extensions.Options.Options.Create(Options(buildNamespace)));
        await using var pods = server.Kubelet.Run(buildNamespace, new PodScript { Lines = ["#1 built by the published service account"], RunFor = TimeSpan.FromMilliseconds(300) });
        var credentials = new Dictionary<string, RegistryCredentials> { ["127.0.0.1:5000"] = new("pusher", "push-password") };

        // A fresh build: creates the Secret, ConfigMap and Job, watches the Job, lists the pods, reads the log, deletes all.
        var fresh = Build("bd-published-rbac-fresh_1");
        var log = new CollectingLogSink();
        var outcome = await backend.RunAsync(fresh, credentials, log, TestContext.Current.CancellationToken);
        Assert.True(outcome.Succeeded, $"{outcome.FailureReason}\n{log.Text}");
        Assert.Contains("#1 built by the published service account", log.Text);

        // A build a dead builder left behind: its Secret and ConfigMap are replaced, its Job is read and reused.
        var restarted = Build("bd-published-rbac-restarted_1");
        var names = KubernetesBuildNames.For(restarted.BuildId);
        var defaults = new KubernetesBuildOptions();
        await Admin.CoreV1.CreateNamespacedSecretAsync(BuildManifests.Secret(names, buildNamespace, restarted, credentials, defaults), buildNamespace, cancellationToken: TestContext.Current.CancellationToken);
        await Admin.CoreV1.CreateNamespacedConfigMapAsync(BuildManifests.ConfigMap(names, buildNamespace, restarted, defaults), buildNamespace, cancellationToken: TestContext.Current.CancellationToken);
        await Admin.BatchV1.CreateNamespacedJobAsync(BuildManifests.Job(names, buildNamespace, restarted, defaults), buildNamespace, cancellationToken: TestContext.Current.CancellationToken);
        log = new CollectingLogSink();
        outcome = await backend.RunAsync(restarted, credentials, log, TestContext.Current.CancellationToken);
        Assert.True(outcome.Succeeded, $"{outcome.FailureReason}\n{log.Text}");
        Assert.Contains("#1 built by the published service account", log.Text);
        Assert.Equal(2, pods.Pods.Count);
        Assert.Empty(pods.Errors);

        // Everywhere else the server refuses it.
        foreach (var elsewhere in new[] { "default", serviceAccount.Namespace! })
        {
            using var outside = KubernetesBuildCluster.Connect(Options(elsewhere), pod.GetValueOrDefault);
            var refused = await Assert.ThrowsAsync<KubernetesApiException>(() =>
                new KubernetesBuildBackend(outside, Microsoft.Extensions.Options.Options.Create(Options(elsewhere))).RunAsync(Build("bd-published-rbac-outside_1"), credentials, new CollectingLogSink(), TestContext.Current.CancellationToken));
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Contains($"in namespace '{elsewhere}'", refused.Message);
            await AssertForbiddenAsync(() => cluster.Client.BatchV1.ListNamespacedJobAsync(elsewhere));
            await AssertForbiddenAsync(() => cluster.Client.CoreV1.ListNamespacedSecretAsync(elsewhere));
        }
        await AssertForbiddenAsync(() => cluster.Client.CoreV1.ListNodeAsync());
        await AssertForbiddenAsync(() => cluster.Client.CoreV1.ListNamespaceAsync());
        await AssertForbiddenAsync(() => cluster.Client.RbacAuthorizationV1.ListNamespacedRoleAsync(buildNamespace));
        Directory.Delete(serviceAccountFolder, recursive: true);
    }

    private static BuildJob Build(string buildId) => new()
    {
        BuildId = buildId,
        ContainerId = "0123456789abcdef",
        TargetImage = "127.0.0.1:5000/wave/build:0123456789abcdef",
        Dockerfile = "FROM busybox\nRUN true\n",
        Platform = "linux/amd64",
        CreatedAt = DateTimeOffset.UtcNow,
        Timeout = TimeSpan.FromMinutes(5),
    };

    private static async Task AssertForbiddenAsync<T>(Func<Task<T>> call)
    {
        var refused = await Assert.ThrowsAsync<HttpOperationException>(call);
        Assert.Equal(HttpStatusCode.Forbidden, refused.Response.StatusCode);
    }
}
