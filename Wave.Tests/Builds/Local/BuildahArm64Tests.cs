using Wave.Tests.Infrastructure;

namespace Wave.Tests.Builds.Local;

/// <summary>An arm64 build on this amd64 machine: the RUN step executes through qemu-user-static (binfmt_misc).</summary>
public sealed class BuildahArm64Tests(RegistryFixture registryFixture) : IAsyncDisposable
{
    private readonly LocalBuild _build = LocalBuild.Create();

    [Fact]
    public async Task An_arm64_build_runs_its_run_step_under_emulation_and_pushes_an_arm64_image()
    {
        Requirements.Binary("qemu-aarch64-static", "qemu-user-static");
        var registries = await registryFixture.GetAsync();
        var target = $"{registries.Plain.Host}/builds/arm64:{LocalBuild.UniqueTag()}";
        var job = LocalBuild.Job(target, $"""
            FROM {registries.Images.MultiArch}
            RUN uname -m > /arch.txt
            """, platform: "linux/arm64");
        var log = new CollectingLogSink();

        var outcome = await _build.RunAsync(job, null, log);

        Assert.True(outcome.Succeeded, $"{outcome.FailureReason}\n{log.Text}");
        Assert.Equal(await PushedImage.DigestAsync(target), outcome.ImageDigest);
        var config = await PushedImage.ConfigAsync(target, "arm64");
        Assert.Equal("arm64", config.GetProperty("architecture").GetString());
        Assert.Equal("aarch64", (await PushedImage.ReadFileAsync(target, "arm64", "arch.txt"))?.Trim());
    }

    public ValueTask DisposeAsync() => _build.DisposeAsync();
}
