using System.Text.Json;

using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Builds.EndToEnd;

/// <summary>
/// <c>containerPlatform: "linux/amd64,linux/arm64"</c> through the REST API of the embedded host: one build of both
/// platforms (arm64 under qemu), an image index in the registry, and through the token each client gets its platform.
/// </summary>
public sealed class MultiPlatformBuildTests(RegistryFixture registryFixture, BuildHostFixture buildFixture, DockerEngineFixture dockerFixture)
{
    private static string Skopeo => Requirements.Binary("skopeo", "skopeo");

    [Fact]
    public async Task A_two_platform_build_is_an_index_and_each_client_pulls_its_own_platform_through_the_token()
    {
        Requirements.Binary("qemu-aarch64-static", "qemu-user-static");
        var registries = await registryFixture.GetAsync();
        var wave = await buildFixture.GetAsync(registries);
        var dockerfile = $"FROM {registries.Images.MultiArch}\n{BuildApi.Nonce()}RUN uname -m > /arch.txt\nCMD [\"cat\", \"/arch.txt\"]\n";

        var answer = await wave.Client.PostContainerAsync(new { containerFile = BuildApi.Base64(dockerfile), containerPlatform = "linux/amd64,linux/arm64" });

        Assert.True(answer.Status == 200, answer.Text);
        var buildId = answer.Body!["buildId"]!.GetValue<string>();
        var status = await wave.Client.WaitCompletedAsync(buildId, TimeSpan.FromMinutes(8));
        Assert.True(status["succeeded"]!.GetValue<bool>(), await wave.Client.LogsAsync(buildId));
        var record = await wave.Client.RecordAsync(buildId);
        Assert.Equal("linux/amd64,linux/arm64", record["platform"]!.GetValue<string>());

        // In the registry: the build's tag is an index of amd64 and arm64, and its digest is the build's.
        var built = answer.Body["containerImage"]!.GetValue<string>();
        using var index = JsonDocument.Parse(await TestProcess.RunAsync(Skopeo, ["inspect", "--raw", "--tls-verify=false", "docker://" + built]));
        Assert.Equal(["amd64", "arm64"], index.RootElement.GetProperty("manifests").EnumerateArray().Select(m => m.GetProperty("platform").GetProperty("architecture").GetString()));
        Assert.Equal(await Registry.TestClients.SkopeoDigestAsync(built), record["digest"]!.GetValue<string>());

        // Through the token: docker on this amd64 machine runs the amd64 image, skopeo asked for arm64 gets the arm64 one.
        var docker = await dockerFixture.GetAsync();
        Assert.Equal("x86_64", (await docker.RunAsync(TimeSpan.FromMinutes(3), "run", "--rm", "--network", "none", answer.TargetImage)).Trim());
        using var arm64 = JsonDocument.Parse(await TestProcess.RunAsync(Skopeo, ["inspect", "--tls-verify=false", "--override-arch", "arm64", "docker://" + answer.TargetImage]));
        Assert.Equal("arm64", arm64.RootElement.GetProperty("Architecture").GetString());

        // The same request names the same build; one platform alone is another image.
        var again = await wave.Client.PostContainerAsync(new { containerFile = BuildApi.Base64(dockerfile), containerPlatform = "linux/arm64,linux/amd64" });
        Assert.Equal(buildId, again.Body!["buildId"]!.GetValue<string>());
        Assert.True(again.Body["cached"]!.GetValue<bool>());
        var single = await wave.Client.PostContainerAsync(new { containerFile = BuildApi.Base64(dockerfile), containerPlatform = "linux/amd64" });
        Assert.NotEqual(buildId[3..19], single.Body!["buildId"]!.GetValue<string>()[3..19]);
    }

    [Fact]
    public async Task The_conda_lock_of_a_two_platform_build_is_the_first_platforms()
    {
        Requirements.Binary("qemu-aarch64-static", "qemu-user-static");
        var registries = await registryFixture.GetAsync();
        var wave = await buildFixture.GetAsync(registries);
        // Stands in for a Conda template (no channel is reachable here): it prints its "lock", the machine it ran on.
        var dockerfile = $"FROM {registries.Images.MultiArch}\n{BuildApi.Nonce()}COPY conda.yml /conda.yml\n"
            + "RUN echo '>> CONDA_LOCK_START' && uname -m && echo '<< CONDA_LOCK_END'\n";

        var answer = await wave.Client.PostContainerAsync(new
        {
            containerFile = BuildApi.Base64(dockerfile),
            condaFile = BuildApi.Base64("dependencies:\n- bwa\n"),
            containerPlatform = "linux/amd64,linux/arm64",
        });

        Assert.True(answer.Status == 200, answer.Text);
        var buildId = answer.Body!["buildId"]!.GetValue<string>();
        var status = await wave.Client.WaitCompletedAsync(buildId, TimeSpan.FromMinutes(8));
        var log = await wave.Client.LogsAsync(buildId);
        Assert.True(status["succeeded"]!.GetValue<bool>(), log);
        Assert.Contains("[linux/arm64] aarch64", log, StringComparison.Ordinal);
        var condaLock = await wave.Client.GetStringAsync($"/v1alpha1/builds/{buildId}/condalock", TestContext.Current.CancellationToken);
        Assert.Equal("x86_64\n", condaLock);
    }

    [Fact]
    public async Task A_singularity_image_of_two_platforms_is_a_400_naming_containerPlatform()
    {
        var registries = await registryFixture.GetAsync();
        var wave = await buildFixture.GetAsync(registries);

        var answer = await wave.Client.PostContainerAsync(new
        {
            containerFile = BuildApi.Base64($"FROM {registries.Images.MultiArch}\n"),
            containerPlatform = "linux/amd64,linux/arm64",
            format = "sif",
            freeze = true,
            buildRepository = $"{registries.Plain.Host}/wave/sif",
        });

        Assert.Equal(400, answer.Status);
        Assert.Equal("containerPlatform", answer.Body!["field"]!.GetValue<string>());
        Assert.Contains("not supported for Singularity format", answer.Body["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
