using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

using Wave.Builder.Kubernetes;
using Wave.Core.Builds;
using Wave.Core.Registry;

namespace Wave.Tests.Builds.Kubernetes;

public sealed partial class KubernetesBuildPiecesTests
{
    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [Theory]
    [InlineData("bd-0123456789abcdef_1")]
    [InlineData("BD_With.Upper_And.Dots")]
    [InlineData("___")]
    [InlineData("bd-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef_12")]
    public void Names_are_dns_labels_of_at_most_63_characters(string buildId)
    {
        var names = KubernetesBuildNames.For(buildId);

        foreach (var name in new[] { names.Job, names.Secret, names.ConfigMap })
        {
            Assert.Matches(DnsLabel(), name);
            Assert.InRange(name.Length, 1, 63);
        }
        Assert.InRange(names.BuildIdLabel.Length, 1, 63);
        Assert.Equal(names, KubernetesBuildNames.For(buildId));
    }

    [Fact]
    public void Ids_that_sanitise_alike_still_get_different_names()
    {
        Assert.NotEqual(KubernetesBuildNames.For("bd-1_1").Job, KubernetesBuildNames.For("bd-1-1").Job);
        Assert.Equal("bd-1_1", KubernetesBuildNames.For("bd-1_1").BuildIdLabel);
    }

    [Fact]
    public void Ansi_escapes_are_stripped()
    {
        Assert.Equal("#5 DONE 0.2s", AnsiText.Strip("\u001b[1;32m#5 DONE\u001b[0m 0.2s\u001b]0;title\u0007"));
        Assert.Equal("plain", AnsiText.Strip("plain"));
    }

    [Fact]
    public void The_pushed_digest_wins_over_exported_ones()
    {
        var manifest = "sha256:" + new string('1', 64);
        var list = "sha256:" + new string('2', 64);
        var pushed = "sha256:" + new string('3', 64);

        Assert.Equal((1, manifest), BuildkitLog.DigestIn($"#9 exporting manifest {manifest} 0.0s done"));
        Assert.Equal((2, list), BuildkitLog.DigestIn($"#9 exporting manifest list {list} done"));
        Assert.Equal((3, pushed), BuildkitLog.DigestIn($"#9 pushing manifest for reg:5000/a/b:t@{pushed} 0.1s done"));
        Assert.Equal((0, null), BuildkitLog.DigestIn("#9 exporting layers 0.3s done"));
    }

    [Fact]
    public void Docker_hub_credentials_use_the_key_docker_looks_up()
    {
        var job = new BuildJob { BuildId = "b", ContainerId = "c", TargetImage = "docker.io/u/r:t", Dockerfile = "FROM x", Platform = "linux/amd64", CreatedAt = DateTimeOffset.UtcNow };
        var secret = BuildManifests.Secret(KubernetesBuildNames.For("b"), "ns", job, new Dictionary<string, RegistryCredentials> { ["docker.io"] = new("u", "p") }, new KubernetesBuildOptions());

        var config = JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(secret["data"]![".dockerconfigjson"]!.ToString())))!;
        Assert.NotNull(config["auths"]!["https://index.docker.io/v1/"]);
    }

    [Theory]
    [InlineData("../etc/passwd")]
    [InlineData("/etc/passwd")]
    [InlineData("a/../../b")]
    [InlineData("Dockerfile")]
    public void Context_paths_that_leave_the_workspace_are_refused(string path)
    {
        var job = new BuildJob
        {
            BuildId = "b",
            ContainerId = "c",
            TargetImage = "r/i:t",
            Dockerfile = "FROM x",
            Platform = "linux/amd64",
            CreatedAt = DateTimeOffset.UtcNow,
            ContextFiles = new Dictionary<string, string> { [path] = "x" },
        };

        Assert.Throws<BuildContextException>(() => BuildManifests.ConfigMap(KubernetesBuildNames.For("b"), "ns", job, new KubernetesBuildOptions()));
    }

    [Fact]
    public void Options_bind_from_configuration_and_the_backend_resolves()
    {
        var dir = Directory.CreateTempSubdirectory("wave-kube-di-").FullName;
        try
        {
            var kubeconfig = Path.Combine(dir, "config");
            File.WriteAllText(kubeconfig, """
                current-context: c
                clusters: [{name: k, cluster: {server: "https://127.0.0.1:6443"}}]
                contexts: [{name: c, context: {cluster: k, user: u, namespace: from-context}}]
                users: [{name: u, user: {token: t}}]
                """);
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Wave:Build:Kubernetes:Connection"] = "kubeconfig",
                ["Wave:Build:Kubernetes:Kubeconfig"] = kubeconfig,
                ["Wave:Build:Kubernetes:Namespace"] = "builds",
                ["Wave:Build:Kubernetes:Image"] = "example/buildkit:custom",
                ["Wave:Build:Kubernetes:Args:0"] = "build",
                ["Wave:Build:Kubernetes:Args:1"] = "--opt=platform={platform}",
                ["Wave:Build:Kubernetes:NodeSelectors:linux/arm64:pool"] = "arm",
                ["Wave:Build:Kubernetes:Requests:cpu"] = "2",
            }).Build();
            using var provider = new ServiceCollection().AddLogging().AddKubernetesBuildBackend(configuration).BuildServiceProvider();

            var options = provider.GetRequiredService<IOptions<KubernetesBuildOptions>>().Value;
            var backend = provider.GetRequiredService<KubernetesBuildBackend>();

            Assert.Equal("builds", backend.Namespace);
            Assert.Equal("example/buildkit:custom", options.Image);
            Assert.Equal("arm", BuildManifests.NodeSelector("linux/arm64", options)["pool"]);
            Assert.Equal("amd64", BuildManifests.NodeSelector("linux/amd64", options)["kubernetes.io/arch"]);
            var job = new BuildJob { BuildId = "b", ContainerId = "c", TargetImage = "r/i:t", Dockerfile = "FROM x", Platform = "linux/arm64", CreatedAt = DateTimeOffset.UtcNow };
            Assert.Equal(["build", "--opt=platform=linux/arm64"], BuildManifests.Arguments(job, options));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
