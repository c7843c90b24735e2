using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

using Wave.Builder.Local;
using Wave.Core.Builds;

namespace Wave.Tests.Builds.Local;

/// <summary>The argument lists and the rules that do not need buildah to run.</summary>
public sealed class BuildahCommandTests
{
    private static readonly BuildFolder Folder = BuildFolder.At("/work/contexts/bd-1_1-0a1b2c3d");

    private static BuildJob Job(string? cache = null) => LocalBuild.Job("127.0.0.1:5000/builds/x:abc", "FROM busybox\n") with { CacheRepository = cache };

    [Fact]
    public void Bud_builds_the_platform_with_layers_in_chroot_and_uses_the_cache_repository_when_given()
    {
        var options = new LocalBuildOptions();
        var plain = BuildahCommand.BudArguments(Job(), Folder, "localhost/wave-build:x", options);
        Assert.Equal(
            ["bud", "--platform", "linux/amd64", "--isolation", "chroot", "--format", "docker", "--authfile", Folder.AuthFile, "--layers",
             "-t", "localhost/wave-build:x", "-f", Folder.Dockerfile, Folder.Context],
            plain);

        var cached = BuildahCommand.BudArguments(Job("127.0.0.1:5000/cache"), Folder, "localhost/wave-build:x", options);
        Assert.Equal(["--cache-from", "127.0.0.1:5000/cache", "--cache-to", "127.0.0.1:5000/cache"], cached.SkipWhile(a => a != "--cache-from").Take(4));
    }

    [Fact]
    public void Push_writes_the_digest_file_and_skips_tls_verification_only_when_told()
    {
        var secure = BuildahCommand.PushArguments(Job(), Folder, "localhost/wave-build:x", tlsVerify: true);
        Assert.Equal(["push", "--authfile", Folder.AuthFile, "--digestfile", Folder.DigestFile, "localhost/wave-build:x", "docker://127.0.0.1:5000/builds/x:abc"], secure);
        var insecure = BuildahCommand.PushArguments(Job(), Folder, "localhost/wave-build:x", tlsVerify: false);
        Assert.Contains("--tls-verify=false", insecure);
    }

    [Fact]
    public void Push_passes_the_requested_compression_and_level_and_nothing_without_one()
    {
        Assert.DoesNotContain("--compression-format", BuildahCommand.PushArguments(Job(), Folder, "localhost/wave-build:x", tlsVerify: true));
        var zstd = BuildahCommand.PushArguments(Job() with { Compression = new BuildCompression("zstd", 19, false) }, Folder, "localhost/wave-build:x", tlsVerify: true);
        Assert.Equal(["--compression-format", "zstd", "--compression-level", "19", "localhost/wave-build:x"], zstd.SkipWhile(a => a != "--compression-format").Take(5));
        var gzip = BuildahCommand.PushArguments(Job() with { Compression = new BuildCompression("gzip", null, false) }, Folder, "localhost/wave-build:x", tlsVerify: true);
        Assert.Equal(["--compression-format", "gzip", "localhost/wave-build:x"], gzip.SkipWhile(a => a != "--compression-format").Take(3));
    }

    [Theory]
    [InlineData("conda.yml", true)]
    [InlineData("scripts/setup.sh", true)]
    [InlineData("../escape", false)]
    [InlineData("a/../../escape", false)]
    [InlineData("/etc/passwd", false)]
    [InlineData("a//b", false)]
    [InlineData("", false)]
    public void Context_paths_must_stay_inside_the_context(string path, bool valid) =>
        Assert.Equal(valid, BuildFolder.InvalidContextPath([path]) is null);

    [Fact]
    public void Local_image_names_are_valid_and_unique_per_build()
    {
        var first = BuildahBuildBackend.LocalImageName("bd-0123456789abcdef_1");
        var second = BuildahBuildBackend.LocalImageName("bd-0123456789abcdef_1");
        Assert.StartsWith("localhost/wave-build:bd-0123456789abcdef_1-", first, StringComparison.Ordinal);
        Assert.NotEqual(first, second);
        Assert.True(Wave.Core.Names.ImageReference.TryParse(BuildahBuildBackend.LocalImageName("BD/odd id+x"), out _, out var error), error);
    }

    [Theory]
    [InlineData("enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n", true)]
    [InlineData("disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n", false)]
    [InlineData("", false)]
    public void A_binfmt_entry_is_read_as_enabled_or_not(string text, bool enabled) =>
        Assert.Equal(enabled, ForeignArchitectureEmulation.IsEnabledEntry(text));

    [Fact]
    public void Each_platform_architecture_has_its_qemu_entry()
    {
        Assert.Equal("qemu-aarch64", ForeignArchitectureEmulation.QemuEntryFor("arm64"));
        Assert.Equal("qemu-x86_64", ForeignArchitectureEmulation.QemuEntryFor("amd64"));
        Assert.Null(ForeignArchitectureEmulation.QemuEntryFor("mips64"));
    }

    [Fact]
    public void Options_bind_from_the_wave_build_local_section_and_the_backend_is_the_build_backend()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Wave:Build:Local:BuildahPath"] = "/opt/buildah",
            ["Wave:Build:Local:WorkDirectory"] = "/var/lib/wave-builds",
            ["Wave:Build:Local:InsecureRegistries:0"] = "registry.internal:5000",
            ["Wave:Build:Local:StorageDriver"] = "overlay",
        }).Build();
        using var provider = new ServiceCollection().AddLogging().AddLocalBuildBackend(configuration).BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<LocalBuildOptions>>().Value;
        Assert.Equal("/opt/buildah", options.BuildahPath);
        Assert.Equal(["registry.internal:5000"], options.InsecureRegistries);
        Assert.Equal("overlay", options.StorageDriver);
        Assert.Equal("chroot", options.Isolation);
        Assert.Equal("/var/lib/wave-builds/storage", options.ResolvedStorageRoot);
        Assert.Equal("/var/lib/wave-builds/run", options.ResolvedRunRoot);
        Assert.Equal("/var/lib/wave-builds/contexts", options.ResolvedContextDirectory);
        Assert.IsType<BuildahBuildBackend>(provider.GetRequiredService<IBuildBackend>());
    }
}
