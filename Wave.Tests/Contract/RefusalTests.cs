using System.Text.Json.Nodes;

using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Contract;

/// <summary>
/// Nothing a client asks for is dropped: each field this service cannot honour is refused with the Wave server's
/// status (400 for fields in conflict, 501 for a capability this service does not have) and a message that names it,
/// in both clients' serialisation styles (nf-wave's explicit nulls, wave-cli's dropped nulls).
/// </summary>
public sealed class RefusalTests(RegistryFixture registryFixture, WaveFixture waveFixture)
{
    private async Task<(WaveTestHost Wave, TestRegistries Registries)> SetUpAsync()
    {
        var registries = await registryFixture.GetAsync();
        return (await waveFixture.GetEmbeddedAsync(registries), registries);
    }

    /// <summary>A refused request; <c>{plain}</c> in the message stands for the plain test registry's host.</summary>
    public sealed record Refusal(string Name, Func<TestRegistries, NfWaveRequest> Request, int Status, string Field, string Message)
    {
        public override string ToString() => Name;
    }

    private static string Dockerfile(TestRegistries r) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"FROM {r.Images.DockerV2}\n"));

    public static TheoryData<Refusal> Refusals => new(
        new Refusal("mirror+packages", r => new NfWaveRequest { ContainerImage = r.Images.DockerV2, Packages = new NfWavePackages { Entries = ["samtools"] }, Mirror = true, TowerAccessToken = "t", BuildRepository = "quay.io/me" }, 400, "packages",
            "Attribute `mirror` and `packages` conflict each other"),
        new Refusal("mirror singularity", r => new NfWaveRequest { ContainerImage = r.Images.DockerV2, Format = "sif", Mirror = true, TowerAccessToken = "t", BuildRepository = "quay.io/me" }, 400, "format",
            "Attribute `mirror` and `format` conflict each other"),
        new Refusal("mirror with a tag on the repository", r => new NfWaveRequest { ContainerImage = r.Images.DockerV2, Mirror = true, TowerAccessToken = "t", BuildRepository = "quay.io/me:v1" }, 400, "buildRepository",
            "buildRepository 'quay.io/me:v1' should not include any tag or digest suffix (the mirror keeps the source's tag)"),
        new Refusal("mirror+freeze", r => new NfWaveRequest { ContainerImage = r.Images.DockerV2, Mirror = true, Freeze = true, TowerAccessToken = "t", BuildRepository = "quay.io/me" }, 400, "freeze",
            "Attribute `mirror` and `freeze` conflict each other"),
        new Refusal("mirror+containerFile", r => new NfWaveRequest { ContainerFile = Dockerfile(r), ContainerImage = null, Mirror = true, TowerAccessToken = "t", BuildRepository = "quay.io/me" }, 400, "containerImage",
            "Attribute `containerImage` is required when specifying `mirror` mode"),
        new Refusal("mirror anonymous", r => new NfWaveRequest { ContainerImage = r.Images.DockerV2, Mirror = true, BuildRepository = "quay.io/me" }, 400, "towerAccessToken",
            "Container mirroring requires an authenticated request - specify the tower token attribute"),
        new Refusal("mirror without repository", r => new NfWaveRequest { ContainerImage = r.Images.DockerV2, Mirror = true, TowerAccessToken = "t" }, 400, "buildRepository",
            "Attribute `buildRepository` is required when specifying `mirror` mode"),
        new Refusal("mirror+containerConfig", r => new NfWaveRequest { ContainerImage = r.Images.DockerV2, Mirror = true, TowerAccessToken = "t", BuildRepository = "quay.io/me", ContainerConfig = new NfWaveContainerConfig { Env = ["A=1"] } }, 400, "containerConfig",
            "Attribute `mirror` and `containerConfig` conflict each other"),
        new Refusal("mirror same registry", r => new NfWaveRequest { ContainerImage = r.Images.DockerV2, Mirror = true, TowerAccessToken = "t", BuildRepository = r.Plain.Host + "/mirror" }, 400, "buildRepository",
            "Source and target mirror registry are the same - offending value '{plain}/mirror'"),
        new Refusal("scanMode required", r => new NfWaveRequest { ContainerImage = r.Images.DockerV2, ScanMode = "required" }, 501, "scanMode",
            "Security scan service is not enabled - Check Wave configuration setting 'Wave:Scan:VulnerabilityDatabase' (a folder or archive of OSV vulnerability advisories): scanMode 'required' cannot be honoured without it (send none or leave it out)"),
        new Refusal("scanMode async", r => new NfWaveRequest { ContainerFile = Dockerfile(r), ScanMode = "async" }, 501, "scanMode",
            "Security scan service is not enabled - Check Wave configuration setting 'Wave:Scan:VulnerabilityDatabase' (a folder or archive of OSV vulnerability advisories): scanMode 'async' cannot be honoured without it (send none or leave it out)"),
        new Refusal("scanLevels", r => new NfWaveRequest { ContainerImage = r.Images.DockerV2, ScanLevels = ["LOW", "MEDIUM"] }, 501, "scanLevels",
            "Security scan service is not enabled - Check Wave configuration setting 'Wave:Scan:VulnerabilityDatabase': scanLevels cannot be checked without it (leave them out)"),
        new Refusal("multi-platform combination", r => new NfWaveRequest { ContainerFile = Dockerfile(r), ContainerPlatform = "linux/amd64,linux/arm/v7" }, 400, "containerPlatform",
            "Only linux/amd64,linux/arm64 multi-platform combination is currently supported"),
        new Refusal("multi-platform augmentation", r => new NfWaveRequest { ContainerImage = r.Images.MultiArch, ContainerPlatform = "linux/arm64,linux/amd64" }, 400, "containerPlatform",
            "Multi-platform builds require either 'containerFile' or 'packages' attribute"),
        new Refusal("multi-platform singularity", r => new NfWaveRequest { ContainerFile = Dockerfile(r), ContainerPlatform = "linux/amd64,linux/arm64", Format = "sif", Freeze = true }, 400, "containerPlatform",
            "Multi-platform builds are not supported for Singularity format"),
        new Refusal("containerIncludes on an augmentation", r => new NfWaveRequest { ContainerImage = r.Images.DockerV2, ContainerIncludes = ["docker.io/library/alpine:3"] }, 501, "containerIncludes",
            "Container includes are merged into built images only by this Wave service - send freeze with a buildRepository (or a containerFile) so that they are built in; adding them to an image as it is served is not supported"),
        new Refusal("buildCompression estargz", r => new NfWaveRequest { ContainerFile = Dockerfile(r), BuildRepository = r.Plain.Host + "/wave/x", BuildCompression = new { mode = "estargz", level = (int?)null, force = (bool?)null } }, 400, "buildCompression.mode",
            "buildCompression.mode 'estargz' cannot be written by this Wave service's builder, which compresses layers with gzip or zstd (buildah 1.28 has no estargz compressor)"),
        new Refusal("buildCompression force", r => new NfWaveRequest { ContainerFile = Dockerfile(r), BuildRepository = r.Plain.Host + "/wave/x", BuildCompression = new { mode = "zstd", force = true } }, 400, "buildCompression.force",
            "buildCompression.force cannot be honoured by this Wave service's builder: buildah 1.28 compresses the layers it builds and keeps the base image's layers as the registry holds them"),
        new Refusal("lock file with pixi", r => new NfWaveRequest { Packages = new NfWavePackages { Entries = ["https://example.org/env.lock"] }, BuildTemplate = "conda/pixi:v1", BuildRepository = r.Plain.Host + "/wave/x" }, 400, "packages.entries",
            "packages.entries names a Conda lock file, which the conda/pixi:v1 template cannot install (use conda/micromamba:v2)"),
        new Refusal("buildTemplate unknown", r => new NfWaveRequest { Packages = new NfWavePackages { Entries = ["samtools"] }, BuildTemplate = "conda/nope:v9" }, 400, "buildTemplate",
            "Unknown build template 'conda/nope:v9' - the Wave API defines conda/pixi:v1, conda/micromamba:v1, conda/micromamba:v2, cran/installr:v1"));

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task A_field_the_service_cannot_honour_is_refused_in_both_serialisation_styles(Refusal refusal)
    {
        var (wave, registries) = await SetUpAsync();
        var request = refusal.Request(registries);

        var nf = await new NfWaveClient(wave.Client).PostAsync(request);
        var cli = await new WaveCliClient(wave.Client).PostAsync(WaveCliClient.Request(request));

        foreach (var (status, body) in new[] { nf, cli })
        {
            Assert.True(refusal.Status == status, $"{refusal.Name}: expected {refusal.Status}, got {status}: {body}");
            var error = JsonNode.Parse(body)!;
            Assert.Equal(refusal.Message.Replace("{plain}", registries.Plain.Host, StringComparison.Ordinal), error["message"]!.GetValue<string>());
            Assert.Equal(refusal.Field, error["field"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task An_operator_whose_builders_write_estargz_and_force_turns_them_on_in_configuration()
    {
        var registries = await registryFixture.GetAsync();
        var settings = Builds.EndToEnd.BuildHostFixture.Settings(registries, Directory.CreateTempSubdirectory("wave-compressions-").FullName);
        settings["Wave:Build:Compressions:0"] = "gzip";
        settings["Wave:Build:Compressions:1"] = "zstd";
        settings["Wave:Build:Compressions:2"] = "estargz";
        settings["Wave:Build:CanForceCompression"] = "true";
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, settings);

        var answer = await wave.Client.PostContainerAsync(new
        {
            containerFile = Dockerfile(registries),
            buildRepository = registries.Plain.Host + "/wave/x",
            buildCompression = new { mode = "estargz", force = true },
            dryRun = true,
        });
        Assert.True(answer.Status == 200, answer.Text);
        var brotli = await wave.Client.PostContainerAsync(new { containerFile = Dockerfile(registries), buildCompression = new { mode = "brotli" }, dryRun = true });
        Assert.Equal((400, "buildCompression.mode"), (brotli.Status, brotli.Field));
    }

    [Fact]
    public async Task A_build_context_that_leaves_the_context_is_a_400_naming_buildContext()
    {
        var (wave, registries) = await SetUpAsync();
        var layer = Builds.Domain.BuildFeatureRequestTests.Escaping("symlink-absolute");
        var answer = await wave.Client.PostContainerAsync(new
        {
            containerFile = Dockerfile(registries),
            buildRepository = registries.Plain.Host + "/wave/x",
            buildContext = new { location = layer.Location, gzipDigest = layer.GzipDigest, gzipSize = layer.GzipSize, tarDigest = layer.TarDigest },
        });
        Assert.Equal(400, answer.Status);
        Assert.Equal("buildContext", answer.Field);
        Assert.Equal("buildContext has the symbolic link 'etc' -> '/etc', which points out of the build context", answer.Message);
        var wrongType = await wave.Client.PostContainerAsync(new { containerFile = Dockerfile(registries), buildRepository = registries.Plain.Host + "/wave/x", buildContext = "context.tar.gz" });
        Assert.Equal(400, wrongType.Status);
        Assert.Equal("buildContext", wrongType.Field);
    }

    [Fact]
    public async Task What_the_service_honours_is_accepted_in_nf_wave_style_with_its_explicit_nulls()
    {
        var (wave, registries) = await SetUpAsync();
        var nf = new NfWaveClient(wave.Client);
        // scanMode none, gzip compression, the one Conda template, a buildTemplate on an image request (nf-wave sends
        // its configured template with every request; it has nothing to shape there): all honoured, none refused.
        var (status, body) = await nf.PostAsync(new NfWaveRequest
        {
            ContainerImage = registries.Images.DockerV2,
            ScanMode = "none",
            BuildCompression = new { mode = "gzip" },
            BuildTemplate = "conda/pixi:v1",
            WorkflowId = "wf-123",
        });
        Assert.True(status == 200, body);
        Assert.True(JsonNode.Parse(body)!["succeeded"]!.GetValue<bool>());
    }

    [Fact]
    public async Task The_legacy_endpoint_refuses_the_fields_of_the_v2_API_as_the_server_does()
    {
        var (wave, registries) = await SetUpAsync();
        var packages = await wave.Client.PostContainerTokenAsync(new { packages = new { type = "CONDA", entries = new[] { "samtools" } } });
        Assert.Equal(400, packages.Status);
        Assert.Equal("Attribute `packages` is not allowed", packages.Message);
        var strategy = await wave.Client.PostContainerTokenAsync(new { containerFile = Dockerfile(registries), nameStrategy = "none" });
        Assert.Equal(400, strategy.Status);
        Assert.Equal("Attribute `nameStrategy` is not allowed by legacy container endpoint", strategy.Message);
        var mirror = await wave.Client.PostContainerTokenAsync(new { containerImage = registries.Images.DockerV2, mirror = true });
        Assert.Equal(400, mirror.Status);
        Assert.Equal("Container mirroring requires the use of v2 API", mirror.Message);
    }

    [Fact]
    public async Task A_service_that_does_not_mirror_refuses_a_mirror_with_501_naming_the_settings()
    {
        var registries = await registryFixture.GetAsync();
        var settings = WaveFixture.RegistrySettings(registries);
        settings["Wave:Mirror:Enabled"] = "false";
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Api, settings);
        var answer = await wave.Client.PostContainerAsync(new { containerImage = registries.Images.DockerV2, mirror = true, towerAccessToken = "t", buildRepository = "quay.io/me" });
        Assert.Equal((501, "mirror"), (answer.Status, answer.Field));
        Assert.Equal("Mirror service is not enabled - Check Wave configuration settings 'Wave:Mirror:Enabled' and 'Wave:Build:Enabled' (copies run on the builders)", answer.Message);
    }

    [Fact]
    public async Task A_service_that_does_not_build_refuses_a_build_with_501_naming_the_setting()
    {
        var registries = await registryFixture.GetAsync();
        var settings = WaveFixture.RegistrySettings(registries);
        settings["Wave:Build:Enabled"] = "false";
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Api, settings);
        foreach (var request in new object[]
        {
            new { containerFile = Dockerfile(registries) },
            new { containerImage = registries.Images.DockerV2, freeze = true, buildRepository = registries.Plain.Host + "/f" },
            new { packages = new { type = "CONDA", entries = new[] { "samtools" } } },
        })
        {
            var answer = await wave.Client.PostContainerAsync(request);
            Assert.Equal(501, answer.Status);
            Assert.Equal("Build service is not enabled - Check Wave configuration setting 'Wave:Build:Enabled'", answer.Message);
        }
        // Copies run on the builders: without them there is no mirror either.
        var mirror = await wave.Client.PostContainerAsync(new { containerImage = registries.Images.DockerV2, mirror = true, towerAccessToken = "t", buildRepository = "quay.io/me" });
        Assert.Equal((501, "mirror"), (mirror.Status, mirror.Field));
    }
}
