using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

using Wave.Builder.Sif;
using Wave.Core.Names;
using Wave.Core.Registry;
using Wave.Tests.Builds.Local;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Sif;

/// <summary>
/// <see cref="SifBuildBackend"/> around the real buildah backend: docker jobs pass through untouched, and a SIF job whose
/// conversion fails ends as a failed build with the reason in its log and outcome.
/// </summary>
public sealed class SifBuildBackendTests(RegistryFixture registryFixture) : IAsyncDisposable
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private readonly LocalBuild _build = LocalBuild.Create();
    private readonly string _work = Directory.CreateTempSubdirectory("wave-sif-backend-").FullName;
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromMinutes(2) };

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        Directory.Delete(_work, recursive: true);
        await _build.DisposeAsync();
    }

    private SifBuildBackend Backend(string sifWorkDirectory) => new(
        _build.Backend,
        new SifImageBuilder(_http, Options.Create(new RegistryOptions()), TimeProvider.System, workDirectory: sifWorkDirectory),
        TimeProvider.System,
        NullLogger<SifBuildBackend>.Instance);

    [Fact]
    public async Task A_docker_job_goes_to_the_backend_unchanged()
    {
        var registries = await registryFixture.GetAsync();
        var target = $"{registries.Plain.Host}/sif-backend/docker:{LocalBuild.UniqueTag()}";
        var log = new CollectingLogSink();

        var outcome = await Backend(_work).RunAsync(LocalBuild.Job(target, $"FROM {registries.Images.DockerV2}\n"), new Dictionary<string, RegistryCredentials>(), log, Cancel);

        Assert.True(outcome.Succeeded, $"{outcome.FailureReason}\n{log.Text}");
        Assert.Contains($"[wave] pushed {target}@{outcome.ImageDigest}", log.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("SIF", log.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_conversion_fails_the_build_with_the_reason_after_the_container_image_was_pushed()
    {
        var registries = await registryFixture.GetAsync();
        var tag = LocalBuild.UniqueTag();
        var target = $"{registries.Plain.Host}/sif-backend/failing:{tag}";
        // The converter's work directory cannot be created: it would be inside a regular file.
        var blocker = Path.Combine(_work, "a-file");
        await File.WriteAllTextAsync(blocker, "not a directory", Cancel);
        var log = new CollectingLogSink();

        var job = LocalBuild.Job(target, $"FROM {registries.Images.DockerV2}\nRUN echo x > /x.txt\n") with { Format = "sif" };
        var outcome = await Backend(Path.Combine(blocker, "sif")).RunAsync(job, new Dictionary<string, RegistryCredentials>(), log, Cancel);

        Assert.False(outcome.Succeeded);
        Assert.Null(outcome.ImageDigest);
        Assert.StartsWith("SIF conversion failed: ", outcome.FailureReason, StringComparison.Ordinal);
        Assert.Contains($"[wave] SIF build, step 1 of 2: building the container image {target}-docker", log.Text, StringComparison.Ordinal);
        Assert.Contains("[wave] SIF build, step 2 of 2: converting", log.Text, StringComparison.Ordinal);
        Assert.Contains("[wave] " + outcome.FailureReason, log.Text, StringComparison.Ordinal);
        var client = SifTestImages.Client();
        await client.HeadManifestAsync(registries.Plain.Host, "sif-backend/failing", tag + "-docker", Cancel);
        var missing = await Assert.ThrowsAsync<RegistryException>(() => client.HeadManifestAsync(registries.Plain.Host, "sif-backend/failing", tag, Cancel));
        Assert.Equal(RegistryErrorKind.NotFound, missing.Kind);
    }

    [Theory]
    [InlineData("localhost:5000/me/sif:abc--0123456789abcdef", "localhost:5000/me/sif:abc--0123456789abcdef-docker")]
    [InlineData("docker.io/me/sif:1.0", "docker.io/me/sif:1.0-docker")]
    public void The_intermediate_image_is_the_tag_with_a_docker_suffix(string target, string intermediate) =>
        Assert.Equal(intermediate, SifBuildBackend.IntermediateImage(ImageReference.Parse(target)));

    [Fact]
    public void The_intermediate_tag_stays_within_128_characters()
    {
        var intermediate = SifBuildBackend.IntermediateImage(ImageReference.Parse("localhost:5000/me/sif:" + new string('a', 128)));
        var tag = intermediate[(intermediate.LastIndexOf(':') + 1)..];
        Assert.Equal(128, tag.Length);
        Assert.EndsWith("-docker", tag, StringComparison.Ordinal);
    }
}
