using Microsoft.Extensions.Logging.Abstractions;

using Wave.Builder.Local;
using Wave.Core.Builds;
using Wave.Core.Registry;

namespace Wave.Tests.Builds.Local;

/// <summary>Jobs the local backend refuses before running anything (buildah here is a path that does not exist).</summary>
public sealed class BuildahBuildValidationTests : IDisposable
{
    private readonly string _work = Path.Combine(Path.GetTempPath(), "wave-local-validation-" + Guid.NewGuid().ToString("N")[..8]);

    private BuildahBuildBackend Backend() => new(
        new LocalBuildOptions { BuildahPath = "/nonexistent/buildah", WorkDirectory = _work },
        TimeProvider.System, NullLogger<BuildahBuildBackend>.Instance);

    public static TheoryData<string, Func<BuildJob, BuildJob>, string> Refusals => new()
    {
        { "sif", job => job with { Format = "sif" }, "not format 'sif'" },
        { "windows", job => job with { Platform = "windows/amd64" }, "unsupported platform 'windows/amd64'" },
        { "bare arch", job => job with { Platform = "arm64" }, "unsupported platform 'arm64'" },
        { "target", job => job with { TargetImage = "Not An Image" }, "invalid target image" },
        { "cache", job => job with { CacheRepository = "UPPER/case" }, "invalid cache repository" },
        { "escape", job => job with { ContextFiles = new Dictionary<string, string> { ["../outside"] = "x" } }, "invalid context file path '../outside'" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Invalid_jobs_fail_with_a_reason_without_running_buildah(string name, Func<BuildJob, BuildJob> change, string reason)
    {
        var job = change(LocalBuild.Job("127.0.0.1:5000/builds/x:1", "FROM busybox\n"));
        var log = new CollectingLogSink();

        var outcome = await Backend().RunAsync(job, new Dictionary<string, RegistryCredentials>(), log, TestContext.Current.CancellationToken);

        Assert.False(outcome.Succeeded, name);
        Assert.Null(outcome.ExitCode);
        Assert.Contains(reason, outcome.FailureReason, StringComparison.Ordinal);
        Assert.Contains(reason, log.Text, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_work, "contexts")) && Directory.EnumerateFileSystemEntries(Path.Combine(_work, "contexts")).Any());
    }

    [Fact]
    public async Task A_missing_buildah_fails_the_build_with_a_reason_instead_of_throwing()
    {
        var log = new CollectingLogSink();
        var outcome = await Backend().RunAsync(LocalBuild.Job("127.0.0.1:5000/builds/x:1", "FROM busybox\n"),
            new Dictionary<string, RegistryCredentials>(), log, TestContext.Current.CancellationToken);

        Assert.False(outcome.Succeeded);
        Assert.StartsWith("cannot start '/nonexistent/buildah'", outcome.FailureReason, StringComparison.Ordinal);
        Assert.Contains("cannot start", log.Text, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_work, "contexts")));
    }

    public void Dispose()
    {
        if (Directory.Exists(_work))
        {
            Directory.Delete(_work, recursive: true);
        }
    }
}
