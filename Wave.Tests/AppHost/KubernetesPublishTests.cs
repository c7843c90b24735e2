using Wave.Tests.Infrastructure;

using YamlDotNet.Serialization;

namespace Wave.Tests.AppHost;

/// <summary>The Kubernetes objects the model publishes: complete, consistent with the committed copy, and renderable by kustomize.</summary>
public sealed class KubernetesPublishTests
{
    private static readonly IDeserializer Yaml = new DeserializerBuilder().Build();

    private static async Task<string> PublishAsync()
    {
        var output = Path.Combine(Directory.CreateTempSubdirectory("wave-k8s-").FullName, "k8s");
        await AppHostProcess.PublishAsync("kubernetes", output);
        return output;
    }

    private static List<Dictionary<object, object>> Objects(string folder) =>
        [.. Directory.GetFiles(folder, "*.yaml").Where(f => Path.GetFileName(f) != "kustomization.yaml")
            .SelectMany(f => File.ReadAllText(f).Split("\n---\n"))
            .Select(document => Yaml.Deserialize<Dictionary<object, object>>(document))];

    private static Dictionary<object, object> Map(object node) => (Dictionary<object, object>)node;
    private static List<object> List(object node) => (List<object>)node;
    private static object At(Dictionary<object, object> node, params string[] path) =>
        path.Aggregate((object)node, (current, key) => Map(current)[key]);

    [Fact]
    public async Task Every_object_has_its_required_fields()
    {
        var objects = Objects(await PublishAsync());
        foreach (var o in objects)
        {
            Assert.False(string.IsNullOrEmpty(o["apiVersion"] as string));
            Assert.False(string.IsNullOrEmpty(o["kind"] as string));
            Assert.False(string.IsNullOrEmpty(At(o, "metadata", "name") as string));
        }
        string[] Named(string kind) => [.. objects.Where(o => (string)o["kind"] == kind).Select(o => (string)At(o, "metadata", "name")).Order(StringComparer.Ordinal)];

        Assert.Equal(["api", "builder", "registry-proxy"], Named("Deployment"));
        Assert.Equal(["postgres", "rabbitmq", "redis"], Named("StatefulSet"));
        Assert.Equal(["api", "builder", "postgres", "rabbitmq", "redis", "registry-proxy"], Named("Service"));
        Assert.Equal(["wave-connection-strings"], Named("ConfigMap"));
        Assert.Equal(["wave-builder"], Named("ServiceAccount"));
        Assert.Equal(["wave-builder"], Named("Role"));
        Assert.Equal(["wave-builder"], Named("RoleBinding"));

        foreach (var deployment in objects.Where(o => (string)o["kind"] == "Deployment"))
        {
            var container = Map(List(At(deployment, "spec", "template", "spec", "containers"))[0]);
            Assert.StartsWith("wave-", (string)container["image"], StringComparison.Ordinal);
            Assert.Equal("/health", At(container, "readinessProbe", "httpGet", "path"));
            var env = List(container["env"]).Select(Map).ToDictionary(e => (string)e["name"]);
            Assert.Contains("ConnectionStrings__redis", env.Keys);
            Assert.Contains("ConnectionStrings__postgres", env.Keys);
            Assert.Equal(At(deployment, "spec", "selector", "matchLabels"), At(deployment, "spec", "template", "metadata", "labels"));
            // Passwords come from the Secret, never as literal values.
            Assert.Equal("wave-passwords", At(env["POSTGRES_PASSWORD"], "valueFrom", "secretKeyRef", "name"));
            Assert.Contains("$(POSTGRES_PASSWORD)", (string)env["ConnectionStrings__postgres"]["value"], StringComparison.Ordinal);
        }
        var api = objects.Single(o => (string)o["kind"] == "Deployment" && (string)At(o, "metadata", "name") == "api");
        var apiEnv = List(At(api, "spec", "template", "spec", "containers")).Select(Map).Single()["env"];
        Assert.Contains(List(apiEnv).Select(Map), e => (string)e["name"] == "services__registry-proxy__http__0" && (string)e["value"] == "http://registry-proxy:8080");

        foreach (var set in objects.Where(o => (string)o["kind"] == "StatefulSet"))
        {
            var claim = Map(List(At(set, "spec", "volumeClaimTemplates")).Single());
            Assert.Equal("1Gi", At(claim, "spec", "resources", "requests", "storage"));
            var mount = Map(List(Map(List(At(set, "spec", "template", "spec", "containers"))[0])["volumeMounts"]).Single());
            Assert.Equal(At(claim, "metadata", "name"), mount["name"]);
        }

        // The proxy's blob cache lives on a size-limited emptyDir, and the cache's own limit stays below it.
        var proxy = objects.Single(o => (string)o["kind"] == "Deployment" && (string)At(o, "metadata", "name") == "registry-proxy");
        var proxyVolume = Map(List(At(proxy, "spec", "template", "spec", "volumes")).Single());
        Assert.Equal("10Gi", At(proxyVolume, "emptyDir", "sizeLimit"));
        var proxyContainer = Map(List(At(proxy, "spec", "template", "spec", "containers")).Single());
        var proxyMount = Map(List(proxyContainer["volumeMounts"]).Single());
        Assert.Equal(proxyVolume["name"], proxyMount["name"]);
        var proxyEnv = List(proxyContainer["env"]).Select(Map).Where(e => e.ContainsKey("value")).ToDictionary(e => (string)e["name"], e => (string)e["value"]);
        Assert.Equal(proxyMount["mountPath"], proxyEnv["Wave__Proxy__BlobCache__Directory"]);
        Assert.True(long.Parse(proxyEnv["Wave__Proxy__BlobCache__MaxBytes"], System.Globalization.CultureInfo.InvariantCulture) < 10L * 1024 * 1024 * 1024);

        var builder = objects.Single(o => (string)o["kind"] == "Deployment" && (string)At(o, "metadata", "name") == "builder");
        Assert.Equal("wave-builder", At(builder, "spec", "template", "spec", "serviceAccountName"));
        var role = objects.Single(o => (string)o["kind"] == "Role");
        Assert.Equal("wave-build", At(role, "metadata", "namespace"));
        var granted = List(role["rules"]).Select(Map).SelectMany(r => List(r["resources"]).Cast<string>()).Order(StringComparer.Ordinal);
        Assert.Equal(["configmaps", "jobs", "pods", "pods/log", "secrets"], granted);
        var binding = objects.Single(o => (string)o["kind"] == "RoleBinding");
        Assert.Equal("wave-build", At(binding, "metadata", "namespace"));
        var subject = Map(List(binding["subjects"]).Single());
        Assert.Equal(("ServiceAccount", "wave-builder", "wave"), ((string)subject["kind"], (string)subject["name"], (string)subject["namespace"]));
    }

    [Fact]
    public async Task Kustomize_renders_the_published_folder_with_its_generated_secret()
    {
        var kubectl = Requirements.Binary("kubectl", "kubectl");
        var folder = await PublishAsync();
        var passwords = await File.ReadAllLinesAsync(Path.Combine(folder, "passwords.env"), TestContext.Current.CancellationToken);
        Assert.Equal(["postgres-password", "rabbitmq-password"], passwords.Select(l => l.Split('=')[0]));
        Assert.All(passwords, l => Assert.True(l.Split('=')[1].Length >= 20));

        var rendered = await TestProcess.RunAsync(kubectl, ["kustomize", folder], TimeSpan.FromMinutes(1));
        var documents = rendered.Split("\n---\n").Select(d => Yaml.Deserialize<Dictionary<object, object>>(d)).ToList();
        var secret = documents.Single(d => (string)d["kind"] == "Secret");
        Assert.StartsWith("wave-passwords-", (string)At(secret, "metadata", "name"), StringComparison.Ordinal);
        // kustomize points every reference at the hashed Secret name.
        Assert.DoesNotContain("name: wave-passwords\n", rendered, StringComparison.Ordinal);
        Assert.Equal(Objects(folder).Count + 1, documents.Count);
    }

    [Fact]
    public async Task The_committed_objects_are_what_the_model_publishes()
    {
        var folder = await PublishAsync();
        var committed = Path.Combine(AppHostProcess.RepositoryRoot, "aspire-manifest", "k8s");
        var published = Directory.GetFiles(folder).Select(Path.GetFileName).Where(f => f != "passwords.env").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(published, Directory.GetFiles(committed).Select(Path.GetFileName).Where(f => f != "passwords.env").Order(StringComparer.Ordinal));
        foreach (var file in published)
        {
            Assert.True(File.ReadAllText(Path.Combine(folder, file!)) == File.ReadAllText(Path.Combine(committed, file!)),
                $"aspire-manifest/k8s/{file} no longer matches the model: regenerate with --publisher kubernetes --output-path aspire-manifest/k8s");
        }
    }
}
