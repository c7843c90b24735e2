using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

using Wave.Core.Augmentation;
using Wave.Core.Builds;
using Wave.Core.Digests;

using static Wave.Tests.Builds.Domain.BuildFields;

namespace Wave.Tests.Builds.Domain;

/// <summary>The request fields of issue 15 as the planner reads them: what is accepted, how it shapes the id, what is a 400.</summary>
public sealed class BuildFeatureRequestTests
{
    private static readonly BuildRequestFields Docker = Dockerfile("FROM busybox\nCOPY app/ /app/\n");

    private static void AssertError(BuildRequestFields fields, string field, string containing, BuildOptions? options = null)
    {
        var error = Error(fields, options);
        Assert.Equal(field, error.Field);
        Assert.Contains(containing, error.Problem, StringComparison.Ordinal);
    }

    // ---- multi-platform

    [Theory]
    [InlineData("linux/amd64,linux/arm64")]
    [InlineData("linux/arm64,linux/amd64")]
    [InlineData("amd64, aarch64")]
    public void SeveralPlatformsAreOneBuildOfBothInCanonicalOrder(string platforms)
    {
        var plan = Plan(Docker with { ContainerPlatform = platforms });
        Assert.True(plan.IsMultiPlatform);
        Assert.Equal("linux/amd64,linux/arm64", plan.PlatformText);
        Assert.Equal(["linux/amd64", "linux/arm64"], plan.ToJob(1, DateTimeOffset.UnixEpoch).Platforms);
    }

    [Fact]
    public void TheContentIdCoversBothPlatforms()
    {
        var multi = Plan(Docker with { ContainerPlatform = "linux/amd64,linux/arm64" }).ContainerId;
        Assert.Equal(ContainerId.Compute("FROM busybox\nCOPY app/ /app/\n", "linux/amd64,linux/arm64", Repository, "docker", new Dictionary<string, string>()), multi);
        Assert.NotEqual(Plan(Docker with { ContainerPlatform = "linux/amd64" }).ContainerId, multi);
        Assert.NotEqual(Plan(Docker with { ContainerPlatform = "linux/arm64" }).ContainerId, multi);
        Assert.Equal(multi, Plan(Docker with { ContainerPlatform = "linux/arm64,linux/amd64" }).ContainerId);
    }

    [Theory]
    [InlineData("linux/amd64,linux/amd64", "twice")]
    [InlineData("linux/amd64,linux/s390x", "unsupported platform")]
    [InlineData("linux/amd64,", "unsupported platform")]
    public void BadPlatformListsAreRefused(string platforms, string message) =>
        AssertError(Docker with { ContainerPlatform = platforms }, "containerPlatform", message);

    [Fact]
    public void ASingularityImageStaysSinglePlatform() =>
        AssertError(Docker with { ContainerPlatform = "linux/amd64,linux/arm64", Format = "sif", Freeze = true, BuildRepository = Repository }, "containerPlatform", "a SIF holds one");

    // ---- buildContext

    internal static ContainerLayer Archive(Action<TarWriter> write)
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            write(writer);
        }
        var tarBytes = tar.ToArray();
        using var gzipped = new MemoryStream();
        using (var gzip = new GZipStream(gzipped, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(tarBytes);
        }
        var bytes = gzipped.ToArray();
        return new ContainerLayer { Location = "data:" + Convert.ToBase64String(bytes), GzipDigest = Digest.Sha256(bytes), GzipSize = bytes.Length, TarDigest = Digest.Sha256(tarBytes) };
    }

    internal static void File(TarWriter writer, string name, string content = "x") =>
        writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) });

    internal static void Link(TarWriter writer, TarEntryType type, string name, string target) =>
        writer.WriteEntry(new PaxTarEntry(type, name) { LinkName = target });

    [Fact]
    public void AnInlineBuildContextTravelsWithTheJobAndItsTarDigestIsInTheId()
    {
        var context = Archive(w => File(w, "app/main.sh", "echo hi"));
        var plan = Plan(Docker with { BuildContext = context });
        var job = plan.ToJob(1, DateTimeOffset.UnixEpoch);
        Assert.NotNull(job.BuildContext?.Data);
        Assert.Equal(context.TarDigest, job.BuildContext!.TarDigest);
        Assert.Equal(ContainerId.Compute("FROM busybox\nCOPY app/ /app/\n", "linux/amd64", Repository, "docker",
            new Dictionary<string, string> { [ContainerId.BuildContextKey] = context.TarDigest! }), plan.ContainerId);
        Assert.NotEqual(Plan(Docker).ContainerId, plan.ContainerId);
    }

    [Fact]
    public void ARemoteBuildContextIsLeftToTheBuilderToFetch()
    {
        var context = Archive(w => File(w, "a.txt")) with { Location = "https://files.example.com/context.tar.gz" };
        var job = Plan(Docker with { BuildContext = context }).ToJob(1, DateTimeOffset.UnixEpoch);
        Assert.Null(job.BuildContext!.Data);
        Assert.Equal(new Uri("https://files.example.com/context.tar.gz"), job.BuildContext.Location);
    }

    public static TheoryData<string, string> EscapingArchives => new()
    {
        { "parent", "leads out of the build context" },
        { "absolute", "leads out of the build context" },
        { "symlink-out", "points out of the build context" },
        { "symlink-absolute", "points out of the build context" },
        { "through-symlink", "a symbolic link of the archive" },
        { "hardlink-out", "not a file earlier in the archive" },
        { "fifo", "only files, directories and links" },
    };

    internal static ContainerLayer Escaping(string kind) => Archive(w =>
    {
        switch (kind)
        {
            case "parent": File(w, "app/../../etc/passwd"); break;
            case "absolute": File(w, "/etc/passwd"); break;
            case "symlink-out": Link(w, TarEntryType.SymbolicLink, "app/etc", "../../etc"); break;
            case "symlink-absolute": Link(w, TarEntryType.SymbolicLink, "etc", "/etc"); break;
            case "through-symlink": Link(w, TarEntryType.SymbolicLink, "sub", "dir"); File(w, "sub/passwd"); break;
            case "hardlink-out": Link(w, TarEntryType.HardLink, "passwd", "../../etc/passwd"); break;
            case "fifo": w.WriteEntry(new PaxTarEntry(TarEntryType.Fifo, "pipe")); break;
        }
    });

    [Theory]
    [MemberData(nameof(EscapingArchives))]
    public void ABuildContextWithAnEntryLeavingTheContextIsRefused(string kind, string message) =>
        AssertError(Docker with { BuildContext = Escaping(kind) }, "buildContext", message);

    [Fact]
    public void LinksInsideTheContextAreAccepted()
    {
        var context = Archive(w =>
        {
            File(w, "app/real.txt");
            Link(w, TarEntryType.SymbolicLink, "app/alias.txt", "real.txt");
            Link(w, TarEntryType.SymbolicLink, "app/up.txt", "../app/real.txt");
            Link(w, TarEntryType.HardLink, "copy.txt", "app/real.txt");
        });
        Assert.NotNull(Plan(Docker with { BuildContext = context }).BuildContext);
    }

    [Fact]
    public void ABuildContextIsVerifiedLikeALayer()
    {
        var context = Archive(w => File(w, "a.txt"));
        AssertError(Docker with { BuildContext = context with { GzipSize = context.GzipSize + 1 } }, "buildContext.gzipSize", "says");
        AssertError(Docker with { BuildContext = context with { GzipDigest = "sha256:" + new string('1', 64) } }, "buildContext.gzipDigest", "digest is");
        AssertError(Docker with { BuildContext = context with { TarDigest = "sha256:" + new string('2', 64) } }, "buildContext.tarDigest", "tar has digest");
        AssertError(Docker with { BuildContext = context with { TarDigest = null } }, "buildContext.tarDigest", "is required");
        AssertError(Docker with { BuildContext = context with { Location = "ftp://x/y" } }, "buildContext.location", "http(s) URL or a data:");
        var notGzip = Encoding.UTF8.GetBytes("not a gzip stream");
        AssertError(Docker with { BuildContext = new ContainerLayer { Location = "data:" + Convert.ToBase64String(notGzip), GzipDigest = Digest.Sha256(notGzip), GzipSize = notGzip.Length, TarDigest = Digest.Sha256(notGzip) } },
            "buildContext.location", "not a valid gzip stream");
    }

    // ---- containerIncludes

    [Fact]
    public void IncludedImagesAreCopiedOnTopOfTheRecipeAndShapeTheId()
    {
        var plan = Plan(Docker with { ContainerIncludes = ["localhost:5000/tools/samtools:1.19", "busybox"] });
        Assert.EndsWith("COPY --from=localhost:5000/tools/samtools:1.19 / /\nCOPY --from=docker.io/library/busybox:latest / /\n", plan.Dockerfile, StringComparison.Ordinal);
        Assert.NotEqual(Plan(Docker).ContainerId, plan.ContainerId);
        var freeze = Plan(Docker with { ContainerIncludes = ["busybox"], Freeze = true, BuildRepository = Repository, ContainerConfig = new ContainerConfig { Cmd = ["sh"] } });
        Assert.EndsWith("COPY --from=docker.io/library/busybox:latest / /\nCMD [\"sh\"]\n", freeze.Dockerfile, StringComparison.Ordinal);
    }

    [Fact]
    public void IncludesAreBoundedAndMustBeImageNames()
    {
        AssertError(Docker with { ContainerIncludes = Enumerable.Range(0, 11).Select(i => $"img{i}").ToList() }, "containerIncludes", "at most 10");
        AssertError(Docker with { ContainerIncludes = ["busybox", "UPPER CASE"] }, "containerIncludes[1]", "not a valid image name");
    }

    // ---- buildCompression

    [Fact]
    public void CompressionIsPartOfTheIdOnlyWhenAsked()
    {
        var plain = Plan(Docker);
        var zstd = Plan(Docker with { BuildCompression = new BuildCompressionFields { Mode = "zstd", Level = 3 } });
        Assert.Null(plain.Compression);
        Assert.Equal(new BuildCompression("zstd", 3, false), zstd.Compression);
        Assert.Equal(zstd.Compression, zstd.ToJob(1, DateTimeOffset.UnixEpoch).Compression);
        Assert.NotEqual(plain.ContainerId, zstd.ContainerId);
        Assert.NotEqual(zstd.ContainerId, Plan(Docker with { BuildCompression = new BuildCompressionFields { Mode = "zstd", Level = 4 } }).ContainerId);
        Assert.Equal("gzip", Plan(Docker with { BuildCompression = new BuildCompressionFields { Level = 9 } }).Compression!.Mode);
    }

    [Theory]
    [InlineData("estargz", null, null, "buildCompression.mode", "buildah 1.28 has no estargz compressor")]
    [InlineData("brotli", null, null, "buildCompression.mode", "is not a compression")]
    [InlineData("gzip", 10, null, "buildCompression.level", "0 to 9")]
    [InlineData("zstd", 23, null, "buildCompression.level", "0 to 22")]
    [InlineData("zstd", -1, null, "buildCompression.level", "0 to 22")]
    [InlineData("zstd", null, true, "buildCompression.force", "cannot be honoured")]
    public void CompressionsTheBuilderCannotWriteAreRefused(string mode, int? level, bool? force, string field, string message) =>
        AssertError(Docker with { BuildCompression = new BuildCompressionFields { Mode = mode, Level = level, Force = force } }, field, message);

    [Fact]
    public void ABackendThatWritesEstargzMayBeConfiguredSo() =>
        Assert.Equal("estargz", Plan(Docker with { BuildCompression = new BuildCompressionFields { Mode = "estargz", Force = true } },
            Options with { Compressions = ["gzip", "zstd", "estargz"], CanForceCompression = true }).Compression!.Mode);

    // ---- templates and lock files

    [Theory]
    [InlineData("conda/pixi:v2", "buildTemplate", "is not a build template")]
    [InlineData("cran/installr:v1", "buildTemplate", "does not install packages of type CONDA")]
    public void UnknownOrMismatchedTemplatesAreRefused(string template, string field, string message) =>
        AssertError(Conda("bwa") with { BuildTemplate = template }, field, message);

    [Fact]
    public void ABuildTemplateIsIgnoredWithoutPackages()
    {
        // nf-wave sends wave.build.template with every request, image augmentations and Dockerfiles included.
        Assert.Equal(Plan(Docker).Dockerfile, Plan(Docker with { BuildTemplate = "conda/pixi:v1" }).Dockerfile);
        Assert.Equal(Plan(Docker).ContainerId, Plan(Docker with { BuildTemplate = "whatever" }).ContainerId);
    }

    [Fact]
    public void ALockFileMustBeTheOnlyEntryAndNotForPixi()
    {
        AssertError(Conda("bwa", "https://example.com/conda.lock"), "packages.entries[1]", "must be the only entry");
        AssertError(Conda("https://example.com/conda.lock") with { BuildTemplate = "conda/pixi:v1" }, "packages.entries", "conda/pixi:v1 template cannot install");
        AssertError(Conda("https://user:pw@example.com/conda.lock"), "packages.entries[0]", "credentials");
        AssertError(new BuildRequestFields { Packages = new PackagesFields { Type = "CONDA", Entries = ["https://example.com/conda.lock"], Environment = Base64("dependencies: [bwa]") } },
            "packages.entries", "cannot both be given");
        Assert.Equal(2048, Plan(Conda("http://example.com/l.lock"), Options with { MaxCondaLockBytes = 2048 }).RemoteFiles[0].MaxBytes);
    }

    [Theory]
    [InlineData("dplyr; rm -rf /", "packages.entries[0]", "not an R package name")]
    [InlineData("'dplyr'", "packages.entries[0]", "not an R package name")]
    public void MalformedCranEntriesAreRefused(string entry, string field, string message) =>
        AssertError(new BuildRequestFields { Packages = new PackagesFields { Type = "CRAN", Entries = [entry] } }, field, message);

    [Fact]
    public void CranRefusesWhatItCannotInstall()
    {
        AssertError(new BuildRequestFields { Packages = new PackagesFields { Type = "CRAN", Entries = [] } }, "packages.entries", "is empty");
        AssertError(new BuildRequestFields { Packages = new PackagesFields { Type = "CRAN", Environment = Base64("install.packages('x')") } }, "packages.environment", "not supported for CRAN");
        AssertError(new BuildRequestFields { Packages = new PackagesFields { Type = "CRAN", Entries = ["x"], Channels = ["https://r.example.org/'); system('id"] } }, "packages.channels[0]", "repository URL");
        AssertError(new BuildRequestFields { Packages = new PackagesFields { Type = "CRAN", Entries = ["x"], CranOpts = new CranOptsFields { Commands = ["RUN cat /root/.docker/config.json"] } } }, "packages.cranOpts.commands[0]", "credentials");
        AssertError(new BuildRequestFields { Packages = new PackagesFields { Type = "CONDA", Entries = ["x"], PixiOpts = new PixiOptsFields { BaseImage = "Not An Image" } }, BuildTemplate = "conda/pixi:v1" }, "packages.pixiOpts.baseImage", "not a valid image name");
        AssertError(Conda("bwa") with { Packages = Conda("bwa").Packages! with { CondaOpts = new CondaOptsFields { BaseImage = "bad image" } } }, "packages.condaOpts.baseImage", "not a valid image name");
    }
}
