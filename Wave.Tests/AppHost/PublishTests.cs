using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

using k8s;
using k8s.Models;

using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.AppHost;

/// <summary>What the AppHost's publish commands write for the model, once per test run.</summary>
public sealed class PublishedOutput : IAsyncDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("wave-publish-").FullName;
    private readonly Lazy<Task<string>> _manifest;
    private readonly Lazy<Task<string>> _kubernetes;

    public PublishedOutput()
    {
        _manifest = new(() => PublishAsync(["--publisher", "manifest", "--output-path", Path.Combine(_folder, "manifest", "aspire-manifest.json")],
            Path.Combine(_folder, "manifest", "aspire-manifest.json")));
        _kubernetes = new(() => PublishAsync(["--publisher", "kubernetes", "--output-path", Path.Combine(_folder, "k8s")], Path.Combine(_folder, "k8s")));
    }

    public static string RepositoryRoot => EmbeddedAppHostProcessTests.RepositoryRoot;

    /// <summary>aspire-manifest.json as Aspire's manifest publisher writes it (<c>dotnet run --project Wave.AppHost -- --publisher manifest …</c>).</summary>
    public Task<string> ManifestAsync() => _manifest.Value;

    /// <summary>The folder the Kubernetes step writes (<c>… --publisher kubernetes --output-path DIR</c>).</summary>
    public Task<string> KubernetesAsync() => _kubernetes.Value;

    private static async Task<string> PublishAsync(string[] arguments, string output)
    {
        // The AppHost as the suite built it (Debug or Release, as this test assembly).
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        await TestProcess.RunAsync("dotnet",
            ["run", "--project", Path.Combine(RepositoryRoot, "Wave.AppHost"), "--no-build", "-c", configuration, "--", .. arguments], TimeSpan.FromMinutes(3),
            new Dictionary<string, string?> { ["ConnectionStrings__redis"] = null });
        Assert.True(File.Exists(output) || Directory.Exists(output), $"{output} was not written");
        return output;
    }

    public ValueTask DisposeAsync()
    {
        Directory.Delete(_folder, recursive: true);
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// The committed deployment files are what the model publishes: Aspire's own manifest (a test fails when the model
/// changes and the file was not regenerated) and the Kubernetes objects read from the same model, which kustomize renders.
/// </summary>
public sealed partial class PublishTests(PublishedOutput published) : IClassFixture<PublishedOutput>
{
    private static string CommittedManifest => Path.Combine(PublishedOutput.RepositoryRoot, "aspire-manifest", "aspire-manifest.json");
    private static string CommittedKubernetes => Path.Combine(PublishedOutput.RepositoryRoot, "aspire-manifest", "k8s");

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_committed_manifest_is_what_aspires_manifest_publisher_writes_for_the_model()
    {
        var actual = await File.ReadAllTextAsync(await published.ManifestAsync(), Cancellation);
        var expected = await File.ReadAllTextAsync(CommittedManifest, Cancellation);
        // Project paths are relative to the manifest's folder: compared as the files they name.
        Assert.True(Normalized(expected, CommittedManifest) == Normalized(actual, await published.ManifestAsync()),
            "aspire-manifest/aspire-manifest.json no longer matches the model: regenerate it with " +
            "`dotnet run --project Wave.AppHost -- --publisher manifest --output-path aspire-manifest/aspire-manifest.json`\n" + actual);
    }

    [Fact]
    public async Task The_manifest_has_the_backing_containers_with_generated_passwords_and_the_projects_with_their_references()
    {
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(CommittedManifest, Cancellation))!;
        var resources = manifest["resources"]!.AsObject();
        foreach (var (name, port, password) in new[] { ("redis", 6379, "redis-password"), ("postgres", 5432, "postgres-password"), ("rabbitmq", 5672, "rabbitmq-password") })
        {
            var container = resources[name]!;
            Assert.Equal("container.v0", container["type"]!.GetValue<string>());
            Assert.StartsWith("docker.io/library/", container["image"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal(port, container["bindings"]!["tcp"]!["targetPort"]!.GetValue<int>());
            Assert.Equal($"wave-{name}-data", container["volumes"]!.AsArray().Single()!["name"]!.GetValue<string>());
            var connectionString = container["connectionString"]!.GetValue<string>();
            Assert.Contains($"{{{name}.bindings.tcp.host}}", connectionString, StringComparison.Ordinal);
            Assert.Contains($"{{{name}.bindings.tcp.port}}", connectionString, StringComparison.Ordinal);
            Assert.Contains(password, connectionString, StringComparison.Ordinal);
            var parameter = resources[password]!;
            Assert.Equal("parameter.v0", parameter["type"]!.GetValue<string>());
            Assert.True(parameter["inputs"]!["value"]!["secret"]!.GetValue<bool>());
            Assert.True(parameter["inputs"]!["value"]!["default"]!["generate"]!["minLength"]!.GetValue<int>() >= 16);
        }
        Assert.Equal("{postgres.connectionString};Database=wave", resources["wave"]!["connectionString"]!.GetValue<string>());

        var expectedReferences = new Dictionary<string, string[]>
        {
            ["registry-proxy"] = ["ConnectionStrings__redis", "ConnectionStrings__wave"],
            ["api"] = ["ConnectionStrings__rabbitmq", "ConnectionStrings__redis", "ConnectionStrings__wave", "services__registry-proxy__http__0", "services__registry-proxy__https__0"],
            ["builder"] = ["ConnectionStrings__rabbitmq", "ConnectionStrings__redis", "ConnectionStrings__wave"],
        };
        foreach (var (name, references) in expectedReferences)
        {
            var project = resources[name]!;
            Assert.Equal("project.v0", project["type"]!.GetValue<string>());
            var path = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(CommittedManifest)!, project["path"]!.GetValue<string>()));
            Assert.True(File.Exists(path), $"{name}'s project path {path} does not exist");
            var env = project["env"]!.AsObject();
            Assert.Equal(references, env.Select(e => e.Key)
                .Where(k => k.StartsWith("ConnectionStrings__", StringComparison.Ordinal) || k.StartsWith("services__", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
            Assert.Equal("{redis.connectionString}", env["ConnectionStrings__redis"]!.GetValue<string>());
            Assert.Equal("{wave.connectionString}", env["ConnectionStrings__wave"]!.GetValue<string>());
            Assert.Equal("http", project["bindings"]!["http"]!["scheme"]!.GetValue<string>());
            // Kubernetes-only settings (the build backend, the blob cache volume) stay out of Aspire's manifest.
            Assert.DoesNotContain(env, e => e.Key.StartsWith("Wave__", StringComparison.Ordinal));
        }
        Assert.Equal("{registry-proxy.bindings.http.url}", resources["api"]!["env"]!["services__registry-proxy__http__0"]!.GetValue<string>());
        Assert.True(resources["api"]!["bindings"]!["http"]!["external"]!.GetValue<bool>());
        Assert.True(resources["registry-proxy"]!["bindings"]!["http"]!["external"]!.GetValue<bool>());

        // Every placeholder names a resource of the manifest.
        foreach (Match match in Placeholder().Matches(manifest.ToJsonString()))
        {
            Assert.True(resources.ContainsKey(match.Groups[1].Value), $"{match.Value} names no resource");
        }
    }

    [Fact]
    public async Task The_committed_kubernetes_objects_are_what_the_model_publishes()
    {
        var folder = await published.KubernetesAsync();
        static List<string> Files(string dir) => [.. Directory.GetFiles(dir).Select(f => Path.GetFileName(f)).Where(f => f != "passwords.env").Order(StringComparer.Ordinal)];
        Assert.Equal(Files(folder), Files(CommittedKubernetes));
        foreach (var file in Files(folder))
        {
            Assert.True(await File.ReadAllTextAsync(Path.Combine(folder, file), Cancellation) == await File.ReadAllTextAsync(Path.Combine(CommittedKubernetes, file), Cancellation),
                $"aspire-manifest/k8s/{file} no longer matches the model: regenerate it with " +
                "`dotnet run --project Wave.AppHost -- --publisher kubernetes --output-path aspire-manifest/k8s`");
        }
    }

    [Fact]
    public async Task The_kubernetes_objects_run_the_model_with_passwords_from_the_secret_and_the_builder_under_its_role()
    {
        var objects = Objects(await published.KubernetesAsync());
        string[] Named<T>() => [.. objects.OfType<T>().Cast<IMetadata<V1ObjectMeta>>().Select(o => o.Metadata.Name).Order(StringComparer.Ordinal)];
        Assert.Equal(["api", "builder", "registry-proxy"], Named<V1Deployment>());
        Assert.Equal(["postgres", "rabbitmq", "redis"], Named<V1StatefulSet>());
        Assert.Equal(["api", "builder", "postgres", "rabbitmq", "redis", "registry-proxy"], Named<V1Service>());
        Assert.Equal(["wave-connection-strings"], Named<V1ConfigMap>());
        Assert.Equal(["wave-builder"], Named<V1ServiceAccount>());
        Assert.Equal(["wave-builder"], Named<V1Role>());
        Assert.Equal(["wave-builder"], Named<V1RoleBinding>());
        Assert.Equal(["wave", "wave-build"], Named<V1Namespace>());

        var connectionStrings = objects.OfType<V1ConfigMap>().Single().Data;
        Assert.Equal("Host=postgres;Port=5432;Username=postgres;Password=$(POSTGRES_PASSWORD);Database=wave", connectionStrings["wave"]);
        Assert.Equal("redis:6379,password=$(REDIS_PASSWORD)", connectionStrings["redis"]);

        foreach (var deployment in objects.OfType<V1Deployment>())
        {
            var container = deployment.Spec.Template.Spec.Containers.Single();
            Assert.Equal($"wave-{deployment.Metadata.Name}", container.Image);
            Assert.Equal("/health", container.ReadinessProbe.HttpGet.Path);
            Assert.Equal("/alive", container.LivenessProbe.HttpGet.Path);
            Assert.Equal(deployment.Spec.Selector.MatchLabels, deployment.Spec.Template.Metadata.Labels);
            var env = container.Env.ToDictionary(e => e.Name);
            Assert.Equal("8080", env["HTTP_PORTS"].Value);
            // Passwords come from the Secret, never as literal values, and are defined before the values that use them.
            Assert.Equal(("wave-passwords", "redis-password"), (env["REDIS_PASSWORD"].ValueFrom.SecretKeyRef.Name, env["REDIS_PASSWORD"].ValueFrom.SecretKeyRef.Key));
            Assert.Equal(connectionStrings["redis"], env["ConnectionStrings__redis"].Value);
            Assert.Equal(connectionStrings["wave"], env["ConnectionStrings__wave"].Value);
            foreach (var variable in container.Env.Where(e => e.Value?.Contains("$(", StringComparison.Ordinal) == true))
            {
                foreach (Match used in UsedVariable().Matches(variable.Value))
                {
                    Assert.True(container.Env.IndexOf(container.Env.Single(e => e.Name == used.Groups[1].Value)) < container.Env.IndexOf(variable),
                        $"{deployment.Metadata.Name}: {variable.Name} uses $({used.Groups[1].Value}) before it is defined");
                }
            }
        }
        var api = objects.OfType<V1Deployment>().Single(d => d.Metadata.Name == "api").Spec.Template.Spec.Containers.Single();
        Assert.Equal("http://registry-proxy:8080", api.Env.Single(e => e.Name == "services__registry-proxy__http__0").Value);
        Assert.DoesNotContain(api.Env, e => e.Name.Contains("https", StringComparison.OrdinalIgnoreCase));

        foreach (var set in objects.OfType<V1StatefulSet>())
        {
            var claim = set.Spec.VolumeClaimTemplates.Single();
            Assert.Equal($"wave-{set.Metadata.Name}-data", claim.Metadata.Name);
            Assert.Equal("1Gi", claim.Spec.Resources.Requests["storage"].ToString());
            Assert.Equal(claim.Metadata.Name, set.Spec.Template.Spec.Containers.Single().VolumeMounts.Single().Name);
        }
        var postgres = objects.OfType<V1StatefulSet>().Single(s => s.Metadata.Name == "postgres").Spec.Template.Spec.Containers.Single();
        Assert.Equal("postgres-password", postgres.Env.Single(e => e.Name == "POSTGRES_PASSWORD").ValueFrom.SecretKeyRef.Key);

        // The proxy's blob cache lives on a size-limited emptyDir, and the cache's own limit stays below it.
        var proxy = objects.OfType<V1Deployment>().Single(d => d.Metadata.Name == "registry-proxy").Spec.Template.Spec;
        var cacheVolume = proxy.Volumes.Single();
        Assert.Equal("10Gi", cacheVolume.EmptyDir.SizeLimit.ToString());
        var cacheMount = proxy.Containers.Single().VolumeMounts.Single();
        Assert.Equal(cacheVolume.Name, cacheMount.Name);
        var proxyEnv = proxy.Containers.Single().Env.Where(e => e.Value is not null).ToDictionary(e => e.Name, e => e.Value);
        Assert.Equal(cacheMount.MountPath, proxyEnv["Wave__Proxy__BlobCache__Directory"]);
        Assert.True(long.Parse(proxyEnv["Wave__Proxy__BlobCache__MaxBytes"], System.Globalization.CultureInfo.InvariantCulture) < 10L * 1024 * 1024 * 1024);

        // The builder runs builds as Jobs in their own namespace, under a service account bound to a Role there.
        var builder = objects.OfType<V1Deployment>().Single(d => d.Metadata.Name == "builder").Spec.Template.Spec;
        Assert.Equal("wave-builder", builder.ServiceAccountName);
        var builderEnv = builder.Containers.Single().Env.Where(e => e.Value is not null).ToDictionary(e => e.Name, e => e.Value);
        Assert.Equal(("kubernetes", "in-cluster", "wave-build"),
            (builderEnv["Wave__Build__Backend"], builderEnv["Wave__Build__Kubernetes__Connection"], builderEnv["Wave__Build__Kubernetes__Namespace"]));
        var role = objects.OfType<V1Role>().Single();
        Assert.Equal("wave-build", role.Metadata.NamespaceProperty);
        Assert.Equal(["configmaps", "jobs", "pods", "pods/log", "secrets"], role.Rules.SelectMany(r => r.Resources).Order(StringComparer.Ordinal));
        var binding = objects.OfType<V1RoleBinding>().Single();
        Assert.Equal("wave-build", binding.Metadata.NamespaceProperty);
        Assert.Equal(("ServiceAccount", "wave-builder", "wave"), (binding.Subjects.Single().Kind, binding.Subjects.Single().Name, binding.Subjects.Single().NamespaceProperty));
    }

    [Fact]
    public async Task Kustomize_renders_the_published_folder_with_its_generated_secret()
    {
        var kubectl = Requirements.Binary("kubectl", "kubectl");
        var folder = await published.KubernetesAsync();
        var passwords = await File.ReadAllLinesAsync(Path.Combine(folder, "passwords.env"), Cancellation);
        Assert.Equal(["postgres-password", "rabbitmq-password", "redis-password"], passwords.Select(l => l.Split('=')[0]));
        Assert.All(passwords, l => Assert.Matches("^[a-zA-Z0-9]{20,}$", l.Split('=')[1]));

        var rendered = await TestProcess.RunAsync(kubectl, ["kustomize", folder], TimeSpan.FromMinutes(1));
        var documents = KubernetesYaml.LoadAllFromString(rendered);
        var secret = documents.OfType<V1Secret>().Single();
        Assert.StartsWith("wave-passwords-", secret.Metadata.Name, StringComparison.Ordinal);
        // kustomize points every reference at the hashed Secret name.
        Assert.DoesNotContain("name: wave-passwords\n", rendered, StringComparison.Ordinal);
        Assert.Equal(Objects(folder).Count + 1, documents.Count);
    }

    private static List<object> Objects(string folder) =>
        [.. Directory.GetFiles(folder, "*.yaml").Where(f => Path.GetFileName(f) != "kustomization.yaml")
            .SelectMany(f => KubernetesYaml.LoadAllFromString(File.ReadAllText(f)))];

    /// <summary>The manifest with every project path made absolute against the manifest's own folder.</summary>
    private static string Normalized(string manifest, string path)
    {
        var json = JsonNode.Parse(manifest)!;
        foreach (var (_, resource) in json["resources"]!.AsObject())
        {
            if (resource?["path"] is { } relative)
            {
                resource["path"] = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, relative.GetValue<string>()));
            }
        }
        return json.ToJsonString();
    }

    [GeneratedRegex(@"\{([a-z0-9-]+)\.(?:bindings|connectionString|value|inputs)")]
    private static partial Regex Placeholder();

    [GeneratedRegex(@"\$\(([A-Z0-9_]+)\)")]
    private static partial Regex UsedVariable();
}
