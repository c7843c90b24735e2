using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

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

        var config = JsonNode.Parse(secret.Data[BuildManifests.DockerConfigKey])!;
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
        // Nor may they through the shared workspace, where the builder writes them itself.
        Assert.Throws<BuildContextException>(() => BuildManifests.CheckWorkspaceRecipe(job));
        Assert.Throws<BuildContextException>(() => BuildManifests.CheckWorkspaceRecipe(job with
        {
            ContextFiles = new Dictionary<string, string>(),
            BinaryContextFiles = new Dictionary<string, byte[]> { [path] = [1] },
        }));
    }
}
