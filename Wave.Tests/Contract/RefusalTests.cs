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
        new Refusal("mirror", r => new NfWaveRequest { ContainerImage = r.Images.DockerV2, Mirror = true, TowerAccessToken = "t", BuildRepository = "quay.io/me" }, 501, "mirror",
            "Mirror service is not enabled - this Wave service does not mirror containers yet (there is no Wave:Mirror setting to turn on)"),
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
            "Security scan service is not enabled - this Wave service does not scan containers yet, so scanMode 'required' cannot be honoured (send none or leave it out)"),
        new Refusal("scanMode async", r => new NfWaveRequest { ContainerFile = Dockerfile(r), ScanMode = "async" }, 501, "scanMode",
            "Security scan service is not enabled - this Wave service does not scan containers yet, so scanMode 'async' cannot be honoured (send none or leave it out)"),
        new Refusal("scanLevels", r => new NfWaveRequest { ContainerImage = r.Images.DockerV2, ScanLevels = ["LOW", "MEDIUM"] }, 501, "scanLevels",
            "Security scan service is not enabled - this Wave service does not scan containers yet, so scanLevels cannot be checked (leave them out)"),
        new Refusal("multi-platform", r => new NfWaveRequest { ContainerFile = Dockerfile(r), ContainerPlatform = "linux/amd64,linux/arm64" }, 501, "containerPlatform",
            "Multi-platform build service is not enabled - this Wave service builds one platform per request: ask once for linux/amd64 and once for linux/arm64"),
        new Refusal("multi-platform combination", r => new NfWaveRequest { ContainerFile = Dockerfile(r), ContainerPlatform = "linux/amd64,linux/arm/v7" }, 400, "containerPlatform",
            "Only linux/amd64,linux/arm64 multi-platform combination is currently supported"),
        new Refusal("multi-platform augmentation", r => new NfWaveRequest { ContainerImage = r.Images.MultiArch, ContainerPlatform = "linux/arm64,linux/amd64" }, 400, "containerPlatform",
            "Multi-platform builds require either 'containerFile' or 'packages' attribute"),
        new Refusal("multi-platform singularity", r => new NfWaveRequest { ContainerFile = Dockerfile(r), ContainerPlatform = "linux/amd64,linux/arm64", Format = "sif", Freeze = true }, 400, "containerPlatform",
            "Multi-platform builds are not supported for Singularity format"),
        new Refusal("containerIncludes", r => new NfWaveRequest { ContainerImage = r.Images.DockerV2, ContainerIncludes = ["docker.io/library/alpine:3"] }, 501, "containerIncludes",
            "Container includes are not supported by this Wave service - build an image that contains them instead"),
        new Refusal("buildTemplate pixi", r => new NfWaveRequest { Packages = new NfWavePackages { Entries = ["samtools"] }, BuildTemplate = "conda/pixi:v1" }, 501, "buildTemplate",
            "Build template 'conda/pixi:v1' is not supported by this Wave service - its CONDA builds use conda/micromamba:v1"),
        new Refusal("buildTemplate micromamba v2", r => new NfWaveRequest { Packages = new NfWavePackages { Entries = ["samtools"] }, BuildTemplate = "conda/micromamba:v2" }, 501, "buildTemplate",
            "Build template 'conda/micromamba:v2' is not supported by this Wave service - its CONDA builds use conda/micromamba:v1"),
        new Refusal("buildTemplate unknown", r => new NfWaveRequest { Packages = new NfWavePackages { Entries = ["samtools"] }, BuildTemplate = "conda/nope:v9" }, 400, "buildTemplate",
            "Unknown build template 'conda/nope:v9' - the Wave API defines conda/pixi:v1, conda/micromamba:v1, conda/micromamba:v2, cran/installr:v1"),
        new Refusal("CRAN packages", r => new NfWaveRequest { Packages = new NfWavePackages { Type = "CRAN", Entries = ["dplyr"] } }, 501, "packages.type",
            "Packages of type CRAN are not supported by this Wave service - it builds CONDA packages"),
        new Refusal("remote Conda lock file", r => new NfWaveRequest { Packages = new NfWavePackages { Entries = ["https://example.org/env.lock"] } }, 501, "packages.entries[0]",
            "Remote Conda lock files are not supported by this Wave service - 'https://example.org/env.lock' is a URL: list package specs or send the file as packages.environment"),
        new Refusal("buildCompression zstd", r => new NfWaveRequest { ContainerFile = Dockerfile(r), BuildCompression = new { mode = "zstd", level = (int?)null, force = (bool?)null } }, 501, "buildCompression",
            "Build compression zstd is not supported by this Wave service - its builds push gzip layers at the builder's default level"),
        new Refusal("buildCompression gzip level", r => new NfWaveRequest { ContainerFile = Dockerfile(r), BuildCompression = new { mode = "gzip", level = 9 } }, 501, "buildCompression",
            "Build compression gzip level 9 is not supported by this Wave service - its builds push gzip layers at the builder's default level"));

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
    public async Task A_build_context_is_refused_with_501()
    {
        var (wave, registries) = await SetUpAsync();
        var layer = TestLayer.Create(new Dictionary<string, string> { ["ctx/a.txt"] = "a" });
        var answer = await wave.Client.PostContainerAsync(new
        {
            containerFile = Dockerfile(registries),
            buildContext = new { location = "data:" + Convert.ToBase64String(layer.Gzip), gzipDigest = layer.GzipDigest, gzipSize = layer.Gzip.Length, tarDigest = layer.TarDigest },
        });
        Assert.Equal(501, answer.Status);
        Assert.Equal("buildContext", answer.Field);
        Assert.Equal("Build context is not supported by this Wave service - send the files the build needs inside the containerFile (COPY of a build context is not available)", answer.Message);
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
    }
}
