using System.IO.Compression;
using System.Text;

using Wave.Core.Augmentation;
using Wave.Core.Builds;
using Wave.Core.Digests;

using static Wave.Tests.Builds.Domain.BuildFields;

namespace Wave.Tests.Builds.Domain;

/// <summary>Every malformed build request is refused with the field at fault named first in the message.</summary>
public sealed class BuildRequestValidationTests
{
    private static void AssertError(BuildRequestFields fields, string field, string containing, BuildOptions? options = null)
    {
        var error = Error(fields, options);
        Assert.Equal(field, error.Field);
        Assert.StartsWith(field + " ", error.Message, StringComparison.Ordinal);
        Assert.Contains(containing, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not base64!")]
    [InlineData("abc")]
    [InlineData("RlJPTSBidXN5Ym94=====")]
    public void ContainerFileThatIsNotBase64IsRefused(string value) =>
        AssertError(new BuildRequestFields { ContainerFile = value }, "containerFile", "not valid base64");

    [Fact]
    public void ContainerFileThatIsNotUtf8IsRefused() =>
        AssertError(new BuildRequestFields { ContainerFile = Convert.ToBase64String([0xff, 0xfe, 0x00, 0xc3]) }, "containerFile", "not UTF-8");

    [Fact]
    public void EmptyContainerFileIsRefused() =>
        AssertError(new BuildRequestFields { ContainerFile = "" }, "containerFile", "is empty");

    [Fact]
    public void CondaFileAndSpackFileAndEnvironmentThatAreNotBase64NameTheirField()
    {
        AssertError(new BuildRequestFields { CondaFile = "%%%%" }, "condaFile", "not valid base64");
        AssertError(new BuildRequestFields { SpackFile = "%%%%" }, "spackFile", "not valid base64");
        AssertError(new BuildRequestFields { Packages = new PackagesFields { Type = "CONDA", Environment = "%%%%" } }, "packages.environment", "not valid base64");
    }

    [Fact]
    public void ContainerImageWithContainerFileIsRefused() =>
        AssertError(Dockerfile("FROM busybox\n") with { ContainerImage = "busybox" }, "containerImage", "containerFile cannot both be given");

    [Fact]
    public void ContainerImageWithPackagesIsRefused() =>
        AssertError(Conda("salmon") with { ContainerImage = "busybox" }, "containerImage", "packages cannot both be given");

    [Fact]
    public void PackagesWithContainerFileIsRefused() =>
        AssertError(Conda("salmon") with { ContainerFile = Base64("FROM busybox\n") }, "packages", "containerFile cannot both be given");

    [Fact]
    public void PackagesWithCondaFileIsRefused() =>
        AssertError(Conda("salmon") with { CondaFile = Base64("dependencies:\n- bwa\n") }, "packages", "condaFile cannot both be given");

    [Fact]
    public void CondaFileWithSpackFileAndNoDockerfileIsRefused() =>
        AssertError(new BuildRequestFields { CondaFile = Base64("dependencies:\n- bwa\n"), SpackFile = Base64("spack:\n  specs: [zlib]\n") }, "spackFile", "condaFile cannot both be given");

    [Fact]
    public void ARequestWithoutAnyRecipeIsRefused() =>
        AssertError(new BuildRequestFields(), "containerFile", "is required");

    [Fact]
    public void AnImageWithoutFreezeIsNotABuild() =>
        AssertError(new BuildRequestFields { ContainerImage = "busybox" }, "containerImage", "no build without freeze");

    [Fact]
    public void FreezeWithoutBuildRepositoryIsRefusedEvenWithADefaultRepository() =>
        AssertError(Dockerfile("FROM busybox\n") with { Freeze = true }, "freeze", "requires buildRepository");

    [Fact]
    public void ABuildWithoutAnyRepositoryIsRefused() =>
        AssertError(Dockerfile("FROM busybox\n"), "buildRepository", "no default build repository", new BuildOptions());

    [Theory]
    [InlineData("windows/amd64")]
    [InlineData("linux/s390x")]
    [InlineData("arm")]
    [InlineData("")]
    public void UnknownPlatformIsRefused(string platform) =>
        AssertError(Dockerfile("FROM busybox\n") with { ContainerPlatform = platform }, "containerPlatform", "not supported");

    [Theory]
    [InlineData("linux/amd64", "linux/amd64")]
    [InlineData("amd64", "linux/amd64")]
    [InlineData("linux/arm64", "linux/arm64")]
    [InlineData("arm64", "linux/arm64")]
    [InlineData("linux/arm64/v8", "linux/arm64")]
    [InlineData(null, "linux/amd64")]
    public void KnownPlatformsAreNormalised(string? platform, string expected) =>
        Assert.Equal(expected, Plan(Dockerfile("FROM busybox\n") with { ContainerPlatform = platform }).Platform.ToString());

    [Theory]
    [InlineData("latest")]
    [InlineData("tag-prefix")]
    [InlineData("")]
    public void UnknownNameStrategyIsRefused(string strategy) =>
        AssertError(Dockerfile("FROM busybox\n") with { NameStrategy = strategy }, "nameStrategy", "expected none, tagPrefix or imageSuffix");

    [Theory]
    [InlineData("SPACK", "send a Spack recipe as spackFile")]
    [InlineData("pip", "CONDA or CRAN")]
    [InlineData("npm", "CONDA or CRAN")]
    public void PackagesOfAnUnknownTypeAreRefused(string type, string hint) =>
        AssertError(new BuildRequestFields { Packages = new PackagesFields { Type = type, Entries = ["x"] } }, "packages.type", hint);

    [Fact]
    public void PackagesWithoutTypeAreRefused() =>
        AssertError(new BuildRequestFields { Packages = new PackagesFields { Entries = ["x"] } }, "packages.type", "is required");

    [Fact]
    public void PackagesWithoutEntriesOrEnvironmentAreRefused() =>
        AssertError(new BuildRequestFields { Packages = new PackagesFields { Type = "CONDA" } }, "packages.entries", "is empty");

    [Fact]
    public void PackagesWithBothEntriesAndEnvironmentAreRefused() =>
        AssertError(Conda("salmon") with { Packages = Conda("salmon").Packages! with { Environment = Base64("dependencies:\n- bwa\n") } }, "packages.entries", "cannot both be given");

    [Theory]
    [InlineData("salmon\nRUN evil", "not a Conda package spec")]
    [InlineData("  ", "not a Conda package spec")]
    [InlineData("salmon # comment", "not a Conda package spec")]
    public void MalformedEntriesAreRefused(string entry, string message) =>
        AssertError(Conda("bwa", entry), "packages.entries[1]", message);

    [Fact]
    public void MalformedChannelIsRefused() =>
        AssertError(Conda("bwa") with { Packages = Conda("bwa").Packages! with { Channels = ["conda-forge", "two words"] } }, "packages.channels[1]", "not a channel");

    [Fact]
    public void InvalidMambaImageIsRefused() =>
        AssertError(Conda("bwa") with { Packages = Conda("bwa").Packages! with { CondaOpts = new CondaOptsFields { MambaImage = "Not An Image" } } }, "packages.condaOpts.mambaImage", "not a valid image name");

    [Fact]
    public void MultiLineCommandIsRefused() =>
        AssertError(Conda("bwa") with { Packages = Conda("bwa").Packages! with { CondaOpts = new CondaOptsFields { Commands = ["RUN true", "RUN a\nRUN b"] } } }, "packages.condaOpts.commands[1]", "one line");

    [Fact]
    public void OversizedDockerfileIsRefused()
    {
        var dockerfile = "FROM busybox\n" + string.Concat(Enumerable.Repeat("RUN echo 0123456789012345678901234567890123456789\n", 250));
        Assert.True(Encoding.UTF8.GetByteCount(dockerfile) > 10 * 1024);
        AssertError(Dockerfile(dockerfile), "containerFile", "at most 10240 are allowed");
    }

    [Fact]
    public void DockerfileAtTheLimitIsAccepted()
    {
        var dockerfile = "FROM busybox\n#" + new string('x', (10 * 1024) - "FROM busybox\n#\n".Length) + "\n";
        Assert.Equal(10 * 1024, Encoding.UTF8.GetByteCount(dockerfile));
        Assert.Equal(dockerfile, Plan(Dockerfile(dockerfile)).Dockerfile);
    }

    [Fact]
    public void VeryLargeRecipeIsRefusedBeforeDecoding() =>
        AssertError(new BuildRequestFields { ContainerFile = Base64(new string('#', 1_000_000)) }, "containerFile", "larger than 10240 bytes");

    [Fact]
    public void OversizedCondaFileIsRefused()
    {
        var conda = "dependencies:\n" + string.Concat(Enumerable.Range(0, 6000).Select(i => $"- pkg{i}\n"));
        Assert.True(Encoding.UTF8.GetByteCount(conda) > 50 * 1024);
        AssertError(new BuildRequestFields { CondaFile = Base64(conda) }, "condaFile", "at most 51200 are allowed");
        AssertError(new BuildRequestFields { Packages = new PackagesFields { Type = "CONDA", Environment = Base64(conda) } }, "packages.environment", "at most 51200 are allowed");
    }

    [Fact]
    public void TooManyPackageEntriesAreRefusedAsAnOversizedEnvironment() =>
        AssertError(Conda([.. Enumerable.Range(0, 5000).Select(i => $"package-number-{i}")]), "packages", "at most 51200 are allowed");

    [Fact]
    public void OversizedSpackFileIsRefused() =>
        AssertError(new BuildRequestFields { SpackFile = Base64("spack:\n" + new string('#', 60 * 1024)) }, "spackFile", "at most 51200 are allowed");

    [Fact]
    public void ConfiguredLimitsApply() =>
        AssertError(Dockerfile("FROM busybox\nRUN true\n"), "containerFile", "at most 16 are allowed", Options with { MaxDockerfileBytes = 16 });

    [Theory]
    [InlineData("RUN cat /kaniko/.docker/config.json")]
    [InlineData("RUN cat $DOCKER_CONFIG/config.json")]
    [InlineData("RUN cat ${docker_config}")]
    [InlineData("RUN cat /root/.docker/config.json")]
    [InlineData("COPY .docker/config.json /x")]
    [InlineData("RUN cat /run/secrets/registry")]
    [InlineData("RUN ls /var/run/secrets/kubernetes.io/serviceaccount")]
    [InlineData("RUN cat $REGISTRY_AUTH_FILE")]
    [InlineData("RUN cat /run/containers/0/auth.json")]
    [InlineData("RUN --mount=type=secret,id=creds cat /x")]
    [InlineData("RUN cat /kaniko/\\\n.docker/config.json")]
    public void DockerfileThatReadsRegistryCredentialsIsRefused(string instruction) =>
        AssertError(Dockerfile($"FROM busybox\n{instruction}\n"), "containerFile", "reads the build's registry credentials");

    [Fact]
    public void CondaCommandThatReadsRegistryCredentialsIsRefused() =>
        AssertError(Conda("bwa") with { Packages = Conda("bwa").Packages! with { CondaOpts = new CondaOptsFields { Commands = ["RUN cat /kaniko/.docker/config.json"] } } }, "packages.condaOpts.commands[0]", "registry credentials");

    [Fact]
    public void FrozenConfigThatReadsRegistryCredentialsIsRefused() =>
        AssertError(Freeze(new ContainerConfig { Cmd = ["cat", "/root/.docker/config.json"] }), "containerConfig", "registry credentials");

    [Fact]
    public void OrdinaryDockerfileIsNotMistakenForACredentialRead() =>
        Assert.Equal(BuildKind.Dockerfile, Plan(Dockerfile("FROM busybox\nRUN echo docker > /etc/name && mkdir -p /run/app\nCOPY config.json /app/\n")).Kind);

    [Theory]
    [InlineData("buildRepository", "Localhost:5000/Upper", "not a valid repository name")]
    [InlineData("buildRepository", "localhost:5000/repo:tag", "without a tag")]
    [InlineData("buildRepository", "localhost:5000/repo@sha256:0000000000000000000000000000000000000000000000000000000000000000", "without a digest")]
    [InlineData("buildRepository", "localhost:5000/bad//path", "not a valid repository name")]
    [InlineData("cacheRepository", "localhost:5000/cache:latest", "without a tag")]
    [InlineData("cacheRepository", "-bad", "not a valid repository name")]
    public void InvalidRepositoryNamesAreRefused(string field, string value, string message)
    {
        var fields = Dockerfile("FROM busybox\n");
        fields = field == "buildRepository" ? fields with { BuildRepository = value } : fields with { CacheRepository = value };
        AssertError(fields, field, message);
    }

    [Fact]
    public void RepositoryOnARegistryWaveCannotPushToIsRefused() =>
        AssertError(Dockerfile("FROM busybox\n") with { BuildRepository = "quay.io/me/builds" }, "buildRepository", "cannot push", Options with { PushRegistries = ["localhost:5000"] });

    [Fact]
    public void RepositoriesAreNormalised()
    {
        var plan = Plan(Dockerfile("FROM busybox\n") with { BuildRepository = "me/builds", CacheRepository = "localhost:5000/cache" });
        Assert.Equal("docker.io/me/builds", plan.BuildRepository);
        Assert.Equal("localhost:5000/cache", plan.CacheRepository);
        Assert.StartsWith("docker.io/me/builds:", plan.TargetImage, StringComparison.Ordinal);
    }

    [Fact]
    public void DefaultCacheRepositoryIsUsedWhenTheRequestNamesNone()
    {
        Assert.Null(Plan(Dockerfile("FROM busybox\n")).CacheRepository);
        Assert.Equal("localhost:5000/cache", Plan(Dockerfile("FROM busybox\n"), Options with { DefaultCacheRepository = "localhost:5000/cache" }).CacheRepository);
    }

    [Theory]
    [InlineData("oci-tarball", "not a build format (expected docker or sif)")]
    [InlineData("tar", "not a build format")]
    public void UnsupportedFormatIsRefused(string format, string message) =>
        AssertError(Dockerfile("FROM busybox\n") with { Format = format }, "format", message);

    [Fact]
    public void FreezeOfAnInvalidImageNameIsRefused() =>
        AssertError(new BuildRequestFields { ContainerImage = "UPPER/case", Freeze = true, BuildRepository = Repository }, "containerImage", "not a valid image name");

    [Theory]
    [InlineData("NO_EQUALS")]
    [InlineData("=value")]
    [InlineData("1BAD=x")]
    [InlineData("A=line\nRUN evil")]
    public void FrozenEnvMustBeNameEqualsValueOnOneLine(string entry) =>
        AssertError(Freeze(new ContainerConfig { Env = ["OK=1", entry] }), "containerConfig.env[1]", "NAME=VALUE");

    [Fact]
    public void FrozenWorkingDirMustBeOneLine() =>
        AssertError(Freeze(new ContainerConfig { WorkingDir = "/app\nRUN evil" }), "containerConfig.workingDir", "one line");

    [Fact]
    public void FrozenLayerWithBadLocationIsRefused() =>
        AssertError(Freeze(new ContainerConfig { Layers = [Layer("ftp://example.com/x.tar.gz")] }), "containerConfig.layers[0].location", "http(s) URL or a data:");

    [Fact]
    public void FrozenLayerWithBadDigestIsRefused() =>
        AssertError(Freeze(new ContainerConfig { Layers = [Layer("https://example.com/x.tar.gz") with { GzipDigest = "sha256:nothex" }] }), "containerConfig.layers[0].gzipDigest", "not a sha256 digest");

    [Fact]
    public void FrozenInlineLayerWhoseBytesContradictItsDigestIsRefused()
    {
        var (gzip, layer) = InlineLayer("hello");
        AssertError(Freeze(new ContainerConfig { Layers = [layer with { GzipDigest = Digest.Sha256("other"u8) }] }), "containerConfig.layers[0].gzipDigest", "data: layer's digest is");
        Assert.NotEmpty(gzip);
    }

    [Fact]
    public void ErrorMessageDoesNotEchoAnOversizedRecipe()
    {
        var error = Error(new BuildRequestFields { ContainerFile = Base64("FROM x\n" + new string('y', 20_000)) });
        Assert.True(error.Message.Length < 200, error.Message);
    }

    internal static BuildRequestFields Freeze(ContainerConfig config) =>
        new() { ContainerImage = "localhost:5000/library/busybox:1.36", ContainerConfig = config, Freeze = true, BuildRepository = Repository };

    internal static ContainerLayer Layer(string location) => new()
    {
        Location = location,
        GzipDigest = "sha256:" + new string('a', 64),
        TarDigest = "sha256:" + new string('b', 64),
        GzipSize = 100,
    };

    /// <summary>A real layer: a tar with one file, gzipped, with its true digests.</summary>
    internal static (byte[] Gzip, ContainerLayer Layer) InlineLayer(string content)
    {
        using var tar = new MemoryStream();
        using (var writer = new System.Formats.Tar.TarWriter(tar, System.Formats.Tar.TarEntryFormat.Pax, leaveOpen: true))
        {
            var entry = new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, "wave/hello.txt")
            {
                DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)),
                ModificationTime = DateTimeOffset.UnixEpoch,
            };
            writer.WriteEntry(entry);
        }
        var tarBytes = tar.ToArray();
        using var gzipped = new MemoryStream();
        using (var gzip = new GZipStream(gzipped, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(tarBytes);
        }
        var gzipBytes = gzipped.ToArray();
        return (gzipBytes, new ContainerLayer
        {
            Location = "data:" + Convert.ToBase64String(gzipBytes),
            GzipDigest = Digest.Sha256(gzipBytes),
            GzipSize = gzipBytes.LongLength,
            TarDigest = Digest.Sha256(tarBytes),
        });
    }
}
