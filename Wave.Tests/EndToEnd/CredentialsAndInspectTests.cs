using System.Text.Json.Nodes;

using Wave.Tests.Infrastructure;

namespace Wave.Tests.EndToEnd;

/// <summary>POST /validate-creds (a real login against each auth flow) and POST /v1alpha1/inspect, against the real registries.</summary>
public sealed class CredentialsAndInspectTests(RegistryFixture registryFixture, WaveFixture waveFixture)
{
    private async Task<(WaveTestHost Wave, TestRegistries Registries)> SetUpAsync()
    {
        var registries = await registryFixture.GetAsync();
        return (await waveFixture.GetEmbeddedAsync(registries), registries);
    }

    [Theory]
    [InlineData("/validate-creds")]
    [InlineData("/v1alpha2/validate-creds")]
    public async Task Basic_and_bearer_logins_are_checked_for_real(string path)
    {
        var (wave, registries) = await SetUpAsync();
        foreach (var registry in new[] { registries.Basic, registries.Bearer })
        {
            var good = await wave.Client.PostJsonAsync(path, new { userName = registry.Credentials!.Username, password = registry.Credentials.Password, registry = registry.Host });
            Assert.True(good.Status == 200, good.Text);
            Assert.Equal("true", good.Text);

            var bad = await wave.Client.PostJsonAsync(path, new { userName = registry.Credentials.Username, password = "not-the-password", registry = "http://" + registry.Host + "/" });
            Assert.True(bad.Status == 200, bad.Text);
            Assert.Equal("false", bad.Text);
        }
    }

    [Theory]
    [InlineData("userName")]
    [InlineData("password")]
    public async Task A_missing_field_is_a_400_naming_it(string missing)
    {
        var (wave, registries) = await SetUpAsync();
        var body = new Dictionary<string, string> { ["userName"] = "u", ["password"] = "p", ["registry"] = registries.Basic.Host };
        body.Remove(missing);
        var answer = await wave.Client.PostJsonAsync("/validate-creds", body);
        Assert.Equal(400, answer.Status);
        Assert.Equal(missing, answer.Field);
    }

    [Theory]
    [InlineData("169.254.169.254", "link-local or cloud metadata")]
    [InlineData("[fe80::1]:5000", "link-local or cloud metadata")]
    [InlineData("10.20.30.40:5000", "Wave:Security:AllowedNetworks")]
    public async Task Metadata_link_local_and_unlisted_private_targets_are_refused(string registry, string reason)
    {
        var (wave, _) = await SetUpAsync();
        var answer = await wave.Client.PostJsonAsync("/validate-creds", new { userName = "u", password = "p", registry });
        Assert.Equal(400, answer.Status);
        Assert.Equal("registry", answer.Field);
        Assert.Contains(reason, answer.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_registry_is_a_502_naming_it_without_the_password()
    {
        var (wave, _) = await SetUpAsync();
        var port = FreePort.Next();
        var answer = await wave.Client.PostJsonAsync("/validate-creds", new { userName = "u", password = "s3cret-pass", registry = $"127.0.0.1:{port}" });
        Assert.Equal(502, answer.Status);
        Assert.Contains($"127.0.0.1:{port}", answer.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pass", answer.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inspect_describes_docker_and_oci_images()
    {
        var (wave, registries) = await SetUpAsync();
        var v2 = await wave.Client.PostJsonAsync("/v1alpha1/inspect", new { containerImage = registries.Images.DockerV2 });
        Assert.True(v2.Status == 200, v2.Text);
        var container = v2.Body!["container"]!;
        Assert.Equal(registries.Plain.Host, container["registry"]!.GetValue<string>());
        Assert.Equal($"http://{registries.Plain.Host}", container["hostName"]!.GetValue<string>());
        Assert.Equal("base/busybox", container["imageName"]!.GetValue<string>());
        Assert.Equal("v2", container["reference"]!.GetValue<string>());
        Assert.True(container["v2"]!.GetValue<bool>());
        Assert.False(container["oci"]!.GetValue<bool>());
        Assert.False(container["v1"]!.GetValue<bool>());
        Assert.Equal("layers", container["config"]!["rootfs"]!["type"]!.GetValue<string>());
        // The config in the shape the clients parse (wave-api ConfigSpec): camelCase runtime keys, lists never missing.
        var runtime = container["config"]!["config"]!.AsObject();
        Assert.Null(runtime["Env"]);
        Assert.Equal(System.Text.Json.JsonValueKind.Array, runtime["env"]!.GetValueKind());
        Assert.Equal(System.Text.Json.JsonValueKind.Array, runtime["cmd"]!.GetValueKind());
        Assert.Equal(System.Text.Json.JsonValueKind.Array, runtime["entrypoint"]!.GetValueKind());
        Assert.Equal(System.Text.Json.JsonValueKind.Object, runtime["labels"]!.GetValueKind());
        Assert.Equal("amd64", container["config"]!["architecture"]!.GetValue<string>());
        var direct = await TestProcess.RunAsync(Requirements.Binary("skopeo", "skopeo"), ["inspect", "--tls-verify=false", "--format", "{{.Digest}}", $"docker://{registries.Images.DockerV2}"]);
        Assert.Equal(direct.Trim(), container["digest"]!.GetValue<string>());

        var oci = await wave.Client.PostJsonAsync("/v1alpha1/inspect", new { containerImage = registries.Images.Oci });
        Assert.True(oci.Body!["container"]!["oci"]!.GetValue<bool>());
        Assert.Equal("application/vnd.oci.image.layer.v1.tar+gzip", oci.Body["container"]!["manifest"]!["layers"]![0]!["mediaType"]!.GetValue<string>());
    }

    [Fact]
    public async Task Inspect_of_a_multi_arch_image_gives_the_index_or_the_named_platform()
    {
        var (wave, registries) = await SetUpAsync();
        var index = await wave.Client.PostJsonAsync("/v1alpha1/inspect", new { containerImage = registries.Images.MultiArch });
        Assert.True(index.Status == 200, index.Text);
        // The Wave API's answer for an index: {index: ...} with the platform of each entry, no container.
        Assert.Equal(2, index.Body!["index"]!["manifests"]!.AsArray().Count);
        Assert.Equal(["amd64", "arm64"], index.Body["index"]!["manifests"]!.AsArray().Select(m => m!["platform"]!["architecture"]!.GetValue<string>()).Order());
        Assert.StartsWith("sha256:", index.Body["index"]!["digest"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(index.Body["container"]);

        var arm = await wave.Client.PostJsonAsync("/v1alpha1/inspect?platform=linux/arm64", new { containerImage = registries.Images.MultiArch });
        Assert.True(arm.Status == 200, arm.Text);
        Assert.Equal("arm64", arm.Body!["container"]!["config"]!["architecture"]!.GetValue<string>());
    }

    [Fact]
    public async Task Inspect_uses_configured_credentials_and_refuses_bad_input()
    {
        var (wave, registries) = await SetUpAsync();
        var basic = await wave.Client.PostJsonAsync("/v1alpha1/inspect", new { containerImage = registries.Images.BasicPrivate });
        Assert.True(basic.Status == 200, basic.Text);

        var missing = await wave.Client.PostJsonAsync("/v1alpha1/inspect", new { containerImage = registries.Images.DockerV2.Replace(":v2", ":nope") });
        Assert.Equal(404, missing.Status);
        Assert.Contains("was not found", missing.Message, StringComparison.Ordinal);

        var badName = await wave.Client.PostJsonAsync("/v1alpha1/inspect", new { containerImage = "Not A Name" });
        Assert.Equal(400, badName.Status);
        Assert.Equal("containerImage", badName.Field);

        var badPlatform = await wave.Client.PostJsonAsync("/v1alpha1/inspect?platform=linux/s390x", new { containerImage = registries.Images.MultiArch });
        Assert.Equal(400, badPlatform.Status);
        Assert.Equal("platform", badPlatform.Field);
    }
}
