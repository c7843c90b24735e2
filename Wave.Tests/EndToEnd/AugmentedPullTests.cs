using System.Text.Json.Nodes;

using Wave.Tests.Infrastructure;

namespace Wave.Tests.EndToEnd;

/// <summary>
/// The heart of Wave: a token for an existing image plus a layer and config, pulled by real clients through the
/// embedded host. The base images are busybox-static images in a real distribution registry.
/// </summary>
public sealed class AugmentedPullTests(RegistryFixture registryFixture, WaveFixture waveFixture, DockerEngineFixture dockerFixture)
{
    private const string Greeting = "hello from a wave layer";

    private static readonly TestLayer HelloLayer = TestLayer.Create(new Dictionary<string, string>
    {
        ["wave/hello.txt"] = Greeting + "\n",
        ["wave/bin/greet"] = "#!/bin/sh\necho \"greet: $WAVE_GREETING\"\n",
    });

    private static object AugmentRequest(string image, string? platform = null) => new
    {
        containerImage = image,
        containerPlatform = platform,
        containerConfig = new
        {
            env = new[] { "WAVE_GREETING=augmented", "WAVE_SECOND=2" },
            entrypoint = new[] { "/bin/cat" },
            cmd = new[] { "/wave/hello.txt" },
            workingDir = "/wave",
            layers = new[] { HelloLayer.AsDataLayer() },
        },
    };

    private async Task<(WaveTestHost Wave, TestRegistries Registries)> SetUpAsync()
    {
        var registries = await registryFixture.GetAsync();
        return (await waveFixture.GetEmbeddedAsync(registries), registries);
    }

    [Fact]
    public async Task Docker_pull_and_run_shows_the_added_layer_env_entrypoint_and_workdir()
    {
        var (wave, registries) = await SetUpAsync();
        var answer = await wave.Client.PostContainerAsync(AugmentRequest(registries.Images.DockerV2));
        Assert.True(answer.Status == 200, answer.Text);
        Assert.StartsWith($"{wave.Host}/wt/{answer.Token}/base/busybox:v2", answer.TargetImage, StringComparison.Ordinal);

        var docker = await dockerFixture.GetAsync();
        await docker.RunAsync("pull", answer.TargetImage);

        // The entrypoint and cmd of the request print the added file.
        var output = await docker.RunAsync("run", "--rm", "--network", "none", answer.TargetImage);
        Assert.Equal(Greeting, output.Trim());

        // The original image is still there underneath, and the env is appended to the image's own.
        var env = await docker.RunAsync("run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", answer.TargetImage, "-c", "cat /etc/base-image.txt; pwd; env");
        Assert.Contains("wave base image", env, StringComparison.Ordinal);
        Assert.Contains("/wave\n", env, StringComparison.Ordinal);
        Assert.Contains("WAVE_GREETING=augmented", env, StringComparison.Ordinal);
        Assert.Contains("WAVE_SECOND=2", env, StringComparison.Ordinal);
        Assert.Contains("PATH=", env, StringComparison.Ordinal);

        var inspect = JsonNode.Parse(await docker.RunAsync("image", "inspect", answer.TargetImage))![0]!;
        Assert.Equal("/bin/cat", inspect["Config"]!["Entrypoint"]![0]!.GetValue<string>());
        Assert.Equal("/wave", inspect["Config"]!["WorkingDir"]!.GetValue<string>());
        Assert.Equal(HelloLayer.TarDigest, inspect["RootFS"]!["Layers"]!.AsArray().Last()!.GetValue<string>());
    }

    [Fact]
    public async Task The_legacy_container_token_endpoint_serves_the_same_flow()
    {
        var (wave, registries) = await SetUpAsync();
        var answer = await wave.Client.PostContainerTokenAsync(AugmentRequest(registries.Images.Oci));
        Assert.True(answer.Status == 200, answer.Text);
        Assert.Equal(["requestId", "containerToken", "targetImage", "expiration", "containerImage"], answer.Body!.AsObject().Select(p => p.Key));
        Assert.Equal(answer.Token, answer.Body["requestId"]!.GetValue<string>());
        // ISO-8601 in UTC, as the API reference shows it, 36 hours ahead by default.
        var expiration = answer.Body["expiration"]!.GetValue<string>();
        Assert.EndsWith("Z", expiration, StringComparison.Ordinal);
        var lifetime = DateTime.Parse(expiration, null, System.Globalization.DateTimeStyles.RoundtripKind) - DateTime.UtcNow;
        Assert.InRange(lifetime.TotalHours, 35.9, 36.0);

        var v2 = await wave.Client.PostContainerAsync(AugmentRequest(registries.Images.Oci));
        // The Wave server's answer: an augmentation has no build, so no buildId and no cached; it is ready now.
        Assert.Equal(["requestId", "containerToken", "targetImage", "expiration", "containerImage", "freeze", "mirror", "succeeded"], v2.Body!.AsObject().Select(p => p.Key));
        Assert.Equal(v2.Token, v2.Body["requestId"]!.GetValue<string>());
        Assert.Equal(registries.Images.Oci, v2.Body["containerImage"]!.GetValue<string>());
        Assert.False(v2.Body["freeze"]!.GetValue<bool>());
        Assert.False(v2.Body["mirror"]!.GetValue<bool>());
        Assert.True(v2.Body["succeeded"]!.GetValue<bool>());

        var docker = await dockerFixture.GetAsync();
        var output = await docker.RunAsync("run", "--rm", "--network", "none", answer.TargetImage);
        Assert.Equal(Greeting, output.Trim());
    }

    [Fact]
    public async Task Skopeo_inspects_and_copies_an_augmented_oci_image()
    {
        var (wave, registries) = await SetUpAsync();
        var answer = await wave.Client.PostContainerAsync(AugmentRequest(registries.Images.Oci));
        Assert.True(answer.Status == 200, answer.Text);

        var raw = JsonNode.Parse(await Skopeo("inspect", "--raw", $"docker://{answer.TargetImage}"))!;
        // The augmented manifest keeps the source's own mediaType field exactly (present with the same value, or absent),
        // and its config descriptor stays in the OCI family.
        var source = JsonNode.Parse(await Skopeo("inspect", "--raw", $"docker://{registries.Images.Oci}"))!;
        Assert.Equal(source["mediaType"]?.GetValue<string>(), raw["mediaType"]?.GetValue<string>());
        Assert.Equal("application/vnd.oci.image.config.v1+json", raw["config"]!["mediaType"]!.GetValue<string>());
        var layers = raw["layers"]!.AsArray();
        Assert.Equal(HelloLayer.GzipDigest, layers.Last()!["digest"]!.GetValue<string>());
        Assert.Equal("application/vnd.oci.image.layer.v1.tar+gzip", layers.Last()!["mediaType"]!.GetValue<string>());

        var config = JsonNode.Parse(await Skopeo("inspect", "--config", $"docker://{answer.TargetImage}"))!;
        Assert.Contains("WAVE_GREETING=augmented", config["config"]!["Env"]!.AsArray().Select(e => e!.GetValue<string>()));

        // Plain `skopeo inspect` lists the repository's tags first: a token lists the one tag it serves.
        var inspect = JsonNode.Parse(await Skopeo("inspect", $"docker://{answer.TargetImage}"))!;
        Assert.Equal(["oci"], inspect["RepoTags"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal(HelloLayer.GzipDigest, inspect["Layers"]!.AsArray().Last()!.GetValue<string>());
        Assert.Equal(HelloLayer.TarDigest, config["rootfs"]!["diff_ids"]!.AsArray().Last()!.GetValue<string>());

        // skopeo copy verifies every blob's digest on the way, the added layer's included.
        var target = Directory.CreateTempSubdirectory("wave-skopeo-");
        try
        {
            await Skopeo("copy", $"docker://{answer.TargetImage}", $"oci:{target.FullName}:copied");
            var blob = Path.Combine(target.FullName, "blobs", "sha256", HelloLayer.GzipDigest["sha256:".Length..]);
            Assert.Equal(HelloLayer.Gzip, await File.ReadAllBytesAsync(blob, TestContext.Current.CancellationToken));
        }
        finally
        {
            target.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Every_platform_of_an_index_is_augmented_and_arm64_pulls_with_the_layer()
    {
        var (wave, registries) = await SetUpAsync();
        var answer = await wave.Client.PostContainerAsync(AugmentRequest(registries.Images.MultiArch));
        Assert.True(answer.Status == 200, answer.Text);

        var index = JsonNode.Parse(await Skopeo("inspect", "--raw", $"docker://{answer.TargetImage}"))!;
        var entries = index["manifests"]!.AsArray();
        Assert.Contains(entries, e => e!["platform"]!["architecture"]!.GetValue<string>() == "amd64");
        Assert.Contains(entries, e => e!["platform"]!["architecture"]!.GetValue<string>() == "arm64");

        foreach (var arch in new[] { "amd64", "arm64" })
        {
            var config = JsonNode.Parse(await Skopeo("--override-arch", arch, "inspect", "--config", $"docker://{answer.TargetImage}"))!;
            Assert.Equal(arch, config["architecture"]!.GetValue<string>());
            Assert.Equal(HelloLayer.TarDigest, config["rootfs"]!["diff_ids"]!.AsArray().Last()!.GetValue<string>());
        }

        var target = Directory.CreateTempSubdirectory("wave-skopeo-");
        try
        {
            await Skopeo("--override-arch", "arm64", "copy", $"docker://{answer.TargetImage}", $"dir:{target.FullName}");
            Assert.True(File.Exists(Path.Combine(target.FullName, HelloLayer.GzipDigest["sha256:".Length..])), "the added layer was copied with the arm64 image");
        }
        finally
        {
            target.Delete(recursive: true);
        }

        // Docker on this amd64 host picks the amd64 entry of the rewritten index and runs it.
        var docker = await dockerFixture.GetAsync();
        Assert.Equal(Greeting, (await docker.RunAsync("run", "--rm", "--network", "none", answer.TargetImage)).Trim());
    }

    [Fact]
    public async Task A_named_platform_of_an_index_is_served_as_its_plain_manifest()
    {
        var (wave, registries) = await SetUpAsync();
        var answer = await wave.Client.PostContainerAsync(AugmentRequest(registries.Images.MultiArch, "linux/arm64"));
        Assert.True(answer.Status == 200, answer.Text);

        var manifest = JsonNode.Parse(await Skopeo("inspect", "--raw", $"docker://{answer.TargetImage}"))!;
        Assert.Null(manifest["manifests"]);
        Assert.Equal(HelloLayer.GzipDigest, manifest["layers"]!.AsArray().Last()!["digest"]!.GetValue<string>());
        var config = JsonNode.Parse(await Skopeo("inspect", "--config", $"docker://{answer.TargetImage}"))!;
        Assert.Equal("arm64", config["architecture"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("basic")]
    [InlineData("bearer")]
    public async Task A_private_upstream_is_pulled_with_wave_credentials(string which)
    {
        var (wave, registries) = await SetUpAsync();
        var image = which == "basic" ? registries.Images.BasicPrivate : registries.Images.BearerPrivate;
        var answer = await wave.Client.PostContainerAsync(AugmentRequest(image));
        Assert.True(answer.Status == 200, answer.Text);

        // The docker engine has no credentials for the private registry: every upstream blob comes through Wave.
        var docker = await dockerFixture.GetAsync();
        Assert.Equal(Greeting, (await docker.RunAsync("run", "--rm", "--network", "none", answer.TargetImage)).Trim());
        await Assert.ThrowsAsync<CommandFailedException>(() => docker.RunAsync("pull", image));
    }

    [Fact]
    public async Task An_image_without_changes_is_served_exactly_as_upstream()
    {
        var (wave, registries) = await SetUpAsync();
        var answer = await wave.Client.PostContainerAsync(new { containerImage = registries.Images.DockerV2 });
        Assert.True(answer.Status == 200, answer.Text);
        var viaWave = await Skopeo("inspect", "--raw", $"docker://{answer.TargetImage}");
        var direct = await Skopeo("inspect", "--raw", $"docker://{registries.Images.DockerV2}");
        Assert.Equal(direct, viaWave);
    }

    private static Task<string> Skopeo(params string[] args) =>
        TestProcess.RunAsync(Requirements.Binary("skopeo", "skopeo"), [.. InsertTlsVerify(args)]);

    // --tls-verify=false goes after the subcommand; global options (--override-arch) before it.
    private static IEnumerable<string> InsertTlsVerify(string[] args)
    {
        var inserted = false;
        foreach (var arg in args)
        {
            yield return arg;
            if (!inserted && arg is "inspect" or "copy")
            {
                yield return arg == "copy" ? "--src-tls-verify=false" : "--tls-verify=false";
                inserted = true;
            }
        }
    }
}
