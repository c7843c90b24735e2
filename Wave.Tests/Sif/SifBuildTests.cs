using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

using Microsoft.Extensions.Options;

using Wave.Builder.Sif;
using Wave.Core.Manifests;
using Wave.Core.Names;
using Wave.Core.Registry;
using Wave.Core.Sif;
using Wave.Tests.Infrastructure;
using Wave.Tests.Registry;

namespace Wave.Tests.Sif;

/// <summary>
/// The SIF pieces against the real things: images from the test registries flattened onto disk, mksquashfs and
/// unsquashfs (squashfs-tools), and ORAS artifacts pushed to and read back from docker-registry, open, Basic and Bearer.
/// </summary>
public sealed class SifBuildTests(RegistryFixture fixture) : IDisposable
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private readonly string _work = Directory.CreateTempSubdirectory("wave-sif-test-").FullName;
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromMinutes(2) };

    public void Dispose()
    {
        _http.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private SifImageBuilder Builder() =>
        new(_http, Options.Create(new RegistryOptions()), TimeProvider.System, workDirectory: Path.Combine(_work, "builder"));

    private static string Repository(string name) => $"sif/{name}-{Guid.NewGuid():N}"[..40];

    private const string Definition = "Bootstrap: docker\nFrom: busybox\n\n%runscript\n    echo hi\n";

    [Fact]
    public async Task A_layer_entry_with_dotdot_is_refused()
    {
        var root = new RootFilesystem(Path.Combine(_work, "root"));
        var tar = SifTestImages.Tar(t => t.File("opt/../../evil.txt", "x"));
        var error = await Assert.ThrowsAsync<SifBuildException>(() => root.ApplyLayerAsync(new MemoryStream(tar), "sha256:test", Cancel));
        Assert.Equal("layer sha256:test: entry 'opt/../../evil.txt' escapes the root filesystem ('..' is not allowed in an entry name)", error.Message);
        Assert.False(File.Exists(Path.Combine(_work, "evil.txt")));
    }

    [Fact]
    public async Task A_symlink_from_an_earlier_layer_does_not_lead_writes_outside_the_root()
    {
        var outside = Path.Combine(_work, "outside");
        Directory.CreateDirectory(outside);
        var root = new RootFilesystem(Path.Combine(_work, "root"));
        // An absolute link to a host directory, and a relative one climbing above the root: both stay inside it.
        await root.ApplyLayerAsync(new MemoryStream(SifTestImages.Tar(t =>
        {
            t.Symlink("absolute", outside);
            t.Symlink("climbing", "../../../../../../" + outside.TrimStart('/'));
        })), "sha256:one", Cancel);
        await root.ApplyLayerAsync(new MemoryStream(SifTestImages.Tar(t =>
        {
            t.File("absolute/pwned.txt", "no");
            t.File("climbing/pwned2.txt", "no");
        })), "sha256:two", Cancel);

        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
        Assert.Equal("no", await File.ReadAllTextAsync(Path.Combine(root.Root, outside.TrimStart('/'), "pwned.txt"), Cancel));
        Assert.Equal("no", await File.ReadAllTextAsync(Path.Combine(root.Root, outside.TrimStart('/'), "pwned2.txt"), Cancel));
        Assert.Equal(outside, new FileInfo(Path.Combine(root.Root, "absolute")).LinkTarget);
    }

    [Fact]
    public async Task Flattening_an_image_applies_whiteouts_opaque_directories_links_and_modes()
    {
        var registries = await fixture.GetAsync();
        var image = await SifTestImages.PushDerivedImageAsync(registries, Repository("whiteout"), [SifTestImages.FilesLayer(), SifTestImages.WhiteoutLayer()], Cancel);
        var root = new RootFilesystem(Path.Combine(_work, "rootfs"));

        var flattened = await ImageFlattener.FlattenAsync(SifTestImages.Client(), ImageReference.Parse(image), ContainerPlatform.LinuxAmd64, root, Cancel);

        string At(string path) => Path.Combine(root.Root, path);
        Assert.Equal(3, flattened.LayerDigests.Count);
        Assert.Equal("amd64", flattened.Config.Architecture);
        Assert.True(File.Exists(At("bin/busybox")));
        Assert.Equal("/bin/busybox", new FileInfo(At("bin/sh")).LinkTarget);
        Assert.False(File.Exists(At("etc/base-image.txt")));                       // a whiteout of a base-layer file
        Assert.False(File.Exists(At("opt/remove-me.txt")));                        // a whiteout of a file of the layer below
        Assert.False(File.Exists(At("opt/dir/old.txt")));                          // hidden by the opaque marker
        Assert.Equal("written with the opaque marker\n", await File.ReadAllTextAsync(At("opt/dir/new.txt"), Cancel));
        Assert.True(File.Exists(At("opt/dir/sub/nested.txt")));                   // written before the marker by the same layer
        Assert.False(File.Exists(At("opt/dir/.wh..wh..opq")));
        Assert.Equal("kept content\n", await File.ReadAllTextAsync(At("opt/keep/a.txt"), Cancel));
        Assert.Equal("keep/a.txt", new FileInfo(At("opt/link")).LinkTarget);
        Assert.Equal(await StatAsync("%i", At("opt/keep/a.txt")), await StatAsync("%i", At("opt/hard"))); // one inode
        Assert.Equal("755", await StatAsync("%a", At("opt/tool.sh")));
        Assert.Equal("644", await StatAsync("%a", At("opt/keep/a.txt")));
        Assert.Equal("555", await StatAsync("%a", At("opt/readonly")));
        Assert.True(File.Exists(At("opt/readonly/second.txt")));
    }

    [Fact]
    public async Task Flattening_reads_plain_tar_and_zstd_layers_as_the_scanner_does()
    {
        var registries = await fixture.GetAsync();
        static (byte[], string) Zstd(byte[] tar)
        {
            using var compressor = new ZstdSharp.Compressor(3);
            return (compressor.Wrap(tar).ToArray(), "application/vnd.oci.image.layer.v1.tar+zstd");
        }
        var zstd = await SifTestImages.PushDerivedImageAsync(registries, Repository("zstd"), [SifTestImages.FilesLayer()], Zstd, MediaTypes.OciManifest, Cancel);
        var plain = await SifTestImages.PushDerivedImageAsync(registries, Repository("tar"), [SifTestImages.WhiteoutLayer()],
            tar => (tar, "application/vnd.oci.image.layer.v1.tar"), MediaTypes.OciManifest, Cancel);

        var zstdRoot = new RootFilesystem(Path.Combine(_work, "zstd"));
        await ImageFlattener.FlattenAsync(SifTestImages.Client(), ImageReference.Parse(zstd), ContainerPlatform.LinuxAmd64, zstdRoot, Cancel);
        var plainRoot = new RootFilesystem(Path.Combine(_work, "tar"));
        await ImageFlattener.FlattenAsync(SifTestImages.Client(), ImageReference.Parse(plain), ContainerPlatform.LinuxAmd64, plainRoot, Cancel);

        Assert.Equal("kept content\n", await File.ReadAllTextAsync(Path.Combine(zstdRoot.Root, "opt/keep/a.txt"), Cancel));
        Assert.Equal("written with the opaque marker\n", await File.ReadAllTextAsync(Path.Combine(plainRoot.Root, "opt/dir/new.txt"), Cancel));
        Assert.False(File.Exists(Path.Combine(plainRoot.Root, "etc/base-image.txt")));
    }

    [Fact]
    public async Task A_layer_of_a_media_type_that_is_no_tar_is_refused_naming_it()
    {
        var registries = await fixture.GetAsync();
        var image = await SifTestImages.PushDerivedImageAsync(registries, Repository("helm"), [SifTestImages.FilesLayer()],
            tar => (SifTestImages.Gzip(tar), "application/vnd.cncf.helm.chart.content.v1.tar+gzip"), MediaTypes.OciManifest, Cancel);

        var error = await Assert.ThrowsAsync<SifBuildException>(() => ImageFlattener.FlattenAsync(SifTestImages.Client(), ImageReference.Parse(image),
            ContainerPlatform.LinuxAmd64, new RootFilesystem(Path.Combine(_work, "helm")), Cancel));

        Assert.Contains("has media type application/vnd.cncf.helm.chart.content.v1.tar+gzip, which is not a tar, gzip or zstd layer", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_SIF_holds_a_squashfs_root_with_the_singularity_files_that_unsquashfs_lists_and_extracts()
    {
        var registries = await fixture.GetAsync();
        var image = await SifTestImages.PushDerivedImageAsync(registries, Repository("squash"), [SifTestImages.FilesLayer(), SifTestImages.WhiteoutLayer()], Cancel);
        var path = Path.Combine(_work, "image.sif");

        var sif = await Builder().BuildAsync(image, Definition, ContainerPlatform.LinuxAmd64, new Dictionary<string, RegistryCredentials>(), path, Cancel);

        var bytes = await File.ReadAllBytesAsync(path, Cancel);
        Assert.Equal(bytes.LongLength, sif.Size);
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes)), sif.Digest);
        // Read independently of the parser: magic, then the descriptor of type 0x4004 (partition) and its bytes.
        Assert.Equal("SIF_MAGIC\0", Encoding.ASCII.GetString(bytes, 32, 10));
        Assert.Equal("02\0", Encoding.ASCII.GetString(bytes, 45, 3));
        var descriptors = Enumerable.Range(0, 48).Select(i => 4096 + (i * 585)).Where(d => bytes[d + 4] == 1).ToList();
        Assert.Equal([0x4001, 0x4003, 0x4004], descriptors.Select(d => BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(d))));
        Assert.Equal(Definition, Encoding.UTF8.GetString(Slice(bytes, descriptors[0])));
        var squashfs = Path.Combine(_work, "root.squashfs");
        await File.WriteAllBytesAsync(squashfs, Slice(bytes, descriptors[2]), Cancel);
        Assert.Equal("hsqs", Encoding.ASCII.GetString(bytes, (int)BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(descriptors[2] + 17)), 4));

        var unsquashfs = Requirements.Binary("unsquashfs", "squashfs-tools");
        var listing = (await TestProcess.RunAsync(unsquashfs, ["-l", squashfs])).Split('\n', StringSplitOptions.TrimEntries);
        Assert.Contains("squashfs-root/bin/busybox", listing);
        Assert.Contains("squashfs-root/opt/keep/a.txt", listing);
        Assert.Contains("squashfs-root/opt/dir/new.txt", listing);
        Assert.Contains("squashfs-root/.singularity.d/runscript", listing);
        Assert.Contains("squashfs-root/.singularity.d/env/10-docker2singularity.sh", listing);
        Assert.Contains("squashfs-root/.singularity.d/env/90-environment.sh", listing);
        Assert.Contains("squashfs-root/.singularity.d/labels.json", listing);
        Assert.Contains("squashfs-root/singularity", listing);
        Assert.DoesNotContain("squashfs-root/opt/remove-me.txt", listing);
        Assert.DoesNotContain("squashfs-root/opt/dir/old.txt", listing);
        Assert.DoesNotContain("squashfs-root/etc/base-image.txt", listing);

        var extracted = Path.Combine(_work, "extracted");
        await TestProcess.RunAsync(unsquashfs, ["-d", extracted, squashfs]);
        Assert.Equal("kept content\n", await File.ReadAllTextAsync(Path.Combine(extracted, "opt/keep/a.txt"), Cancel));
        Assert.Equal("#!/bin/sh\nif [ $# -gt 0 ]; then\n    exec \"$@\"\nfi\nexec /bin/sh\n",
            await File.ReadAllTextAsync(Path.Combine(extracted, ".singularity.d/runscript"), Cancel));
        Assert.Equal("755", await StatAsync("%a", Path.Combine(extracted, ".singularity.d/runscript")));
        Assert.Contains("export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            await File.ReadAllTextAsync(Path.Combine(extracted, ".singularity.d/env/10-docker2singularity.sh"), Cancel), StringComparison.Ordinal);

        // The same image and definition give the same file.
        var again = await Builder().BuildAsync(image, Definition, ContainerPlatform.LinuxAmd64, new Dictionary<string, RegistryCredentials>(), Path.Combine(_work, "again.sif"), Cancel);
        Assert.Equal(sif.Digest, again.Digest);
    }

    [Fact]
    public async Task An_image_without_the_platform_is_refused_before_anything_is_written()
    {
        var registries = await fixture.GetAsync();
        var error = await Assert.ThrowsAsync<SifBuildException>(() => Builder().BuildAsync(
            registries.Images.DockerV2, null, ContainerPlatform.LinuxArm64, new Dictionary<string, RegistryCredentials>(), Path.Combine(_work, "x.sif"), Cancel));
        Assert.Equal($"image {registries.Images.DockerV2} is for linux/amd64, not linux/arm64", error.Message);
    }

    [Fact]
    public async Task The_SIF_is_pushed_as_an_ORAS_artifact_and_reads_back_through_the_registry_API()
    {
        var registries = await fixture.GetAsync();
        var path = Path.Combine(_work, "image.sif");
        var sif = await Builder().BuildAsync(registries.Images.MultiArch, Definition, ContainerPlatform.LinuxArm64, new Dictionary<string, RegistryCredentials>(), path, Cancel);
        Assert.Equal("04", SifFile.Parse(path).PrimaryPartition!.Partition!.Architecture);
        var repository = Repository("oras");
        var target = $"{registries.Plain.Host}/{repository}:1.0";

        // Chunks of 64 KiB: the blob goes up in PATCHes, and the registry must assemble it byte for byte.
        var pushed = await Builder().PushAsync(path, target, new Dictionary<string, RegistryCredentials>(), chunkSize: 64 * 1024, Cancel);

        Assert.Equal($"oras://{target}", pushed.Location);
        Assert.Equal(sif.Digest, pushed.SifDigest);
        await AssertArtifactAsync(SifTestImages.Client(), registries.Plain.Host, repository, "1.0", path, pushed);

        // A second push finds the blob there and does not upload it again.
        var again = await SifTestImages.Client().PushBlobFileAsync(registries.Plain.Host, repository, path, cancellationToken: Cancel);
        Assert.True(again.AlreadyPresent);
    }

    [Theory]
    [InlineData("basic")]
    [InlineData("bearer")]
    public async Task BuildAndPush_pulls_and_pushes_with_the_given_credentials(string which)
    {
        var registries = await fixture.GetAsync();
        var (server, source) = which == "basic"
            ? (registries.Basic, registries.Images.BasicPrivate)
            : (registries.Bearer, registries.Images.BearerPrivate);
        var repository = Repository(which);
        var credentials = new Dictionary<string, RegistryCredentials> { [server.Host] = server.Credentials! };

        var pushed = await Builder().BuildAndPushAsync(source, $"{server.Host}/{repository}:v1", Definition, ContainerPlatform.LinuxAmd64, credentials, Cancel);

        var (reader, _) = TestClients.Create([TestClients.Login(server.Host, server.Credentials!)]);
        var manifest = await reader.GetManifestAsync(server.Host, repository, "v1", Cancel);
        Assert.Equal(pushed.ManifestDigest, manifest.Digest);
        var layerDigest = TestClients.Field(manifest.Content, "layers", "0", "digest");
        Assert.Equal(pushed.SifDigest, layerDigest);
        var download = Path.Combine(_work, "pulled.sif");
        await DownloadAsync(reader, server.Host, repository, layerDigest, download);
        Assert.Equal(pushed.SifSize, new FileInfo(download).Length);
        await using (var pulled = File.OpenRead(download))
        {
            Assert.Equal(Definition, Encoding.UTF8.GetString(SifFile.ReadObject(pulled, SifFile.Parse(pulled).Descriptors[0])));
        }

        // Without credentials the same push is refused.
        var refused = await Assert.ThrowsAsync<RegistryException>(() => Builder().PushAsync(download, $"{server.Host}/{repository}:v2", new Dictionary<string, RegistryCredentials>(), cancellationToken: Cancel));
        Assert.Equal(RegistryErrorKind.Unauthorized, refused.Kind);
    }

    private async Task AssertArtifactAsync(RegistryClient client, string registry, string repository, string tag, string sifPath, SifPushResult pushed)
    {
        var manifest = await client.GetManifestAsync(registry, repository, tag, Cancel);
        Assert.Equal(MediaTypes.OciManifest, manifest.MediaType);
        Assert.Equal(pushed.ManifestDigest, manifest.Digest);
        Assert.Equal("2", TestClients.Field(manifest.Content, "schemaVersion"));
        Assert.Equal("application/vnd.oci.image.manifest.v1+json", TestClients.Field(manifest.Content, "mediaType"));
        Assert.Equal("application/vnd.sylabs.sif.config.v1+json", TestClients.Field(manifest.Content, "config", "mediaType"));
        var configDigest = TestClients.Field(manifest.Content, "config", "digest");
        Assert.Equal("{}", Encoding.UTF8.GetString(await client.GetBlobBytesAsync(registry, repository, configDigest, 1024, Cancel)));
        Assert.Equal("application/vnd.sylabs.sif.layer.v1.sif", TestClients.Field(manifest.Content, "layers", "0", "mediaType"));
        var name = repository[(repository.LastIndexOf('/') + 1)..];
        Assert.Equal($"{name}.sif", TestClients.Field(manifest.Content, "layers", "0", "annotations", "org.opencontainers.image.title"));
        var fileBytes = await File.ReadAllBytesAsync(sifPath, Cancel);
        var fileDigest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(fileBytes));
        Assert.Equal(fileDigest, TestClients.Field(manifest.Content, "layers", "0", "digest"));
        Assert.Equal(fileBytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), TestClients.Field(manifest.Content, "layers", "0", "size"));

        var download = Path.Combine(_work, "downloaded.sif");
        await DownloadAsync(client, registry, repository, fileDigest, download);
        Assert.Equal(fileBytes, await File.ReadAllBytesAsync(download, Cancel));
    }

    private static async Task DownloadAsync(RegistryClient client, string registry, string repository, string digest, string path)
    {
        using var response = await client.GetBlobFollowingRedirectsAsync(registry, repository, digest, Cancel);
        await using var file = File.Create(path);
        await response.Content.CopyToAsync(file, Cancel);
    }

    private static byte[] Slice(byte[] sif, int descriptor)
    {
        var offset = BinaryPrimitives.ReadInt64LittleEndian(sif.AsSpan(descriptor + 17));
        var size = BinaryPrimitives.ReadInt64LittleEndian(sif.AsSpan(descriptor + 25));
        return sif[(int)offset..(int)(offset + size)];
    }

    private static async Task<string> StatAsync(string format, string path) =>
        (await TestProcess.RunAsync("/usr/bin/stat", ["-c", format, path])).Trim();
}
