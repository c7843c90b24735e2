using System.Formats.Tar;

using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

using Wave.Builder.Local;
using Wave.Builder.Worker;
using Wave.Core.Builds;
using Wave.Core.Security;
using Wave.Tests.Builds.Domain;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Builds.Local;

/// <summary>
/// What the builder does with a job's build context and remote files before buildah runs: unpacking (whatever reached
/// it), and fetching over real HTTP from a loopback server under the outbound-address policy.
/// </summary>
public sealed class BuildContextFetchTests : IAsyncDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "wave-context-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly ServiceProvider _services = new ServiceCollection().AddHttpClient().BuildServiceProvider();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static byte[] Bytes(Wave.Core.Augmentation.ContainerLayer layer) => Convert.FromBase64String(layer.Location!["data:".Length..]);

    private RemoteLayerFetcher Fetcher(params string[] allowedNetworks) => new(
        _services.GetRequiredService<IHttpClientFactory>(),
        new NetworkTargetPolicy(Options.Create(new NetworkTargetOptions { AllowedNetworks = [.. allowedNetworks] })),
        Options.Create(new BuildOptions()));

    [Fact]
    public async Task Files_directories_modes_and_inner_links_are_unpacked()
    {
        var archive = BuildFeatureRequestTests.Archive(w =>
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "bin/"));
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "bin/run.sh") { Mode = (UnixFileMode)Convert.ToInt32("755", 8), DataStream = new MemoryStream("#!/bin/sh\n"u8.ToArray()) });
            BuildFeatureRequestTests.Link(w, TarEntryType.SymbolicLink, "run", "bin/run.sh");
            BuildFeatureRequestTests.Link(w, TarEntryType.HardLink, "copy.sh", "bin/run.sh");
        });

        await BuildContextUnpacker.UnpackAsync(Bytes(archive), _folder, Token);

        Assert.Equal("#!/bin/sh\n", await File.ReadAllTextAsync(Path.Combine(_folder, "bin/run.sh"), Token));
        Assert.True(OperatingSystem.IsWindows() || File.GetUnixFileMode(Path.Combine(_folder, "bin/run.sh")).HasFlag(UnixFileMode.UserExecute));
        Assert.Equal("bin/run.sh", new FileInfo(Path.Combine(_folder, "run")).LinkTarget);
        Assert.Equal("#!/bin/sh\n", await File.ReadAllTextAsync(Path.Combine(_folder, "copy.sh"), Token));
    }

    [Theory]
    [MemberData(nameof(BuildFeatureRequestTests.EscapingArchives), MemberType = typeof(BuildFeatureRequestTests))]
    public async Task An_escaping_archive_that_reaches_the_builder_writes_nothing_outside(string kind, string message)
    {
        var outside = Path.Combine(Path.GetDirectoryName(_folder)!, "etc");
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => BuildContextUnpacker.UnpackAsync(Bytes(BuildFeatureRequestTests.Escaping(kind)), _folder, Token));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.StartsWith("buildContext ", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(outside) && Directory.GetLastWriteTimeUtc(outside) > DateTime.UtcNow.AddMinutes(-1));
    }

    [Fact]
    public async Task A_remote_build_context_is_fetched_and_checked_against_its_digests_and_entries()
    {
        var good = BuildFeatureRequestTests.Archive(w => BuildFeatureRequestTests.File(w, "a.txt", "remote"));
        var escaping = BuildFeatureRequestTests.Escaping("symlink-absolute");
        await using var server = await ScriptedHttpServer.StartAsync(context => context.Response.Body.WriteAsync(
            Bytes(context.Request.Path == "/good.tar.gz" ? good : escaping), context.RequestAborted).AsTask());
        BuildJob Job(Wave.Core.Augmentation.ContainerLayer layer, string path) => LocalBuild.Job("127.0.0.1:1/x:y", "FROM scratch\n") with
        {
            BuildContext = new BuildContextArchive { Location = new Uri($"http://{server.Host}{path}"), GzipDigest = layer.GzipDigest!, GzipSize = layer.GzipSize, TarDigest = layer.TarDigest! },
        };

        var (fetched, problem) = await Fetcher("127.0.0.0/8").FetchAsync(Job(good, "/good.tar.gz"), Token);
        Assert.Null(problem);
        Assert.Equal(Bytes(good), fetched!.BuildContext!.Data);
        Assert.Null(fetched.BuildContext.Location);

        (_, problem) = await Fetcher("127.0.0.0/8").FetchAsync(Job(escaping, "/bad.tar.gz"), Token);
        Assert.Contains("points out of the build context", problem, StringComparison.Ordinal);

        // Claims the bytes do not keep: another tar digest.
        (_, problem) = await Fetcher("127.0.0.0/8").FetchAsync(Job(good with { TarDigest = "sha256:" + new string('3', 64) }, "/good.tar.gz"), Token);
        Assert.Contains("tarDigest", problem, StringComparison.Ordinal);

        // Without the loopback range allowed, the policy refuses the host before anything is asked of it.
        var asked = server.Received.Count;
        (_, problem) = await Fetcher().FetchAsync(Job(good, "/good.tar.gz"), Token);
        Assert.Contains("a loopback address this deployment does not reach", problem, StringComparison.Ordinal);
        Assert.Equal(asked, server.Received.Count);
    }

    [Fact]
    public async Task A_remote_lock_file_is_fetched_into_the_context_under_the_policy_and_its_size_bound()
    {
        const string lockFile = "@EXPLICIT\nhttps://conda.anaconda.org/conda-forge/noarch/tzdata-2024a-h0c530f3_0.conda\n";
        await using var server = await ScriptedHttpServer.StartAsync(context => context.Response.WriteAsync(
            context.Request.Path == "/big" ? new string('x', 5000) : lockFile, context.RequestAborted));
        var plan = BuildPlanner.Plan(BuildFields.Conda($"http://{server.Host}/v1alpha1/builds/bd-1_1/condalock"), BuildFields.Options);

        var (fetched, problem) = await Fetcher("127.0.0.0/8").FetchAsync(plan.ToJob(1, DateTimeOffset.UtcNow), Token);
        Assert.Null(problem);
        Assert.Equal(lockFile, fetched!.ContextFiles["conda.lock"]);
        Assert.Empty(fetched.RemoteFiles);
        Assert.Contains("COPY --chown=$MAMBA_USER:$MAMBA_USER conda.lock /tmp/conda.lock", fetched.Dockerfile, StringComparison.Ordinal);

        var big = BuildPlanner.Plan(BuildFields.Conda($"http://{server.Host}/big"), BuildFields.Options with { MaxCondaLockBytes = 4096 }).ToJob(1, DateTimeOffset.UtcNow);
        (_, problem) = await Fetcher("127.0.0.0/8").FetchAsync(big, Token);
        Assert.Contains("at most 4096 are fetched", problem, StringComparison.Ordinal);

        (_, problem) = await Fetcher().FetchAsync(plan.ToJob(1, DateTimeOffset.UtcNow), Token);
        Assert.Contains("a loopback address this deployment does not reach", problem, StringComparison.Ordinal);
        (_, problem) = await Fetcher("127.0.0.0/8").FetchAsync(BuildPlanner.Plan(BuildFields.Conda("http://169.254.169.254/latest/meta-data"), BuildFields.Options).ToJob(1, DateTimeOffset.UtcNow), Token);
        Assert.Contains("link-local or cloud metadata address", problem, StringComparison.Ordinal);
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}
