using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

using Wave.Core.Digests;
using Wave.Core.Manifests;
using Wave.Core.Registry;
using Wave.Tests.Infrastructure;
using Wave.Tests.Registry;

namespace Wave.Tests.Sif;

/// <summary>Layers with links and whiteouts, and an image made of the busybox base plus such layers, pushed to a test registry.</summary>
internal static class SifTestImages
{
    private static readonly DateTimeOffset Time = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static byte[] Tar(Action<TarWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new TarWriter(buffer, TarEntryFormat.Pax, leaveOpen: true))
        {
            write(writer);
        }
        return buffer.ToArray();
    }

    public static byte[] Gzip(byte[] bytes)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(bytes);
        }
        return buffer.ToArray();
    }

    public static void Directory(this TarWriter writer, string name, int mode = 0b111_101_101) =>
        writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, name) { Mode = (UnixFileMode)mode, ModificationTime = Time });

    public static void File(this TarWriter writer, string name, string content, int mode = 0b110_100_100) =>
        writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            Mode = (UnixFileMode)mode,
            ModificationTime = Time,
            DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)),
        });

    public static void Symlink(this TarWriter writer, string name, string target) =>
        writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, name) { LinkName = target, Mode = (UnixFileMode)0b111_111_111, ModificationTime = Time });

    public static void HardLink(this TarWriter writer, string name, string target) =>
        writer.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, name) { LinkName = target, Mode = (UnixFileMode)0b110_100_100, ModificationTime = Time });

    /// <summary>The first layer on top of busybox: files, a symlink, a hard link, an executable, a read-only directory.</summary>
    public static byte[] FilesLayer() => Tar(tar =>
    {
        tar.Directory("opt/");
        tar.Directory("opt/keep/");
        tar.File("opt/keep/a.txt", "kept content\n");
        tar.File("opt/remove-me.txt", "to be whited out\n");
        tar.Directory("opt/dir/");
        tar.File("opt/dir/old.txt", "hidden by the opaque marker\n");
        tar.File("opt/tool.sh", "#!/bin/sh\necho tool\n", 0b111_101_101);
        tar.Symlink("opt/link", "keep/a.txt");
        tar.HardLink("opt/hard", "opt/keep/a.txt");
        tar.Directory("opt/readonly/", 0b101_101_101);
        tar.File("opt/readonly/inside.txt", "in a read-only directory\n");
    });

    /// <summary>The second layer: a whiteout of a file of each lower layer, an opaque directory with new content.</summary>
    public static byte[] WhiteoutLayer() => Tar(tar =>
    {
        tar.File("opt/.wh.remove-me.txt", "");
        tar.File("etc/.wh.base-image.txt", "");
        tar.Directory("opt/dir/");
        tar.File("opt/dir/new.txt", "written with the opaque marker\n");
        tar.File("opt/dir/sub/nested.txt", "in a directory this layer has no entry for\n");
        tar.File("opt/dir/.wh..wh..opq", "");
        tar.File("opt/readonly/second.txt", "a later layer writes into the read-only directory\n");
    });

    /// <summary>Pushes busybox (from the fixture's Docker v2 image) plus <paramref name="extraLayers"/> as <c>host/repository:tag</c>; returns the image name.</summary>
    public static Task<string> PushDerivedImageAsync(TestRegistries registries, string repository, IReadOnlyList<byte[]> extraLayers, CancellationToken cancellationToken) =>
        PushDerivedImageAsync(registries, repository, extraLayers, tar => (Gzip(tar), MediaTypes.DockerLayerGzip), MediaTypes.DockerManifest, cancellationToken);

    /// <summary>As above, each extra layer compressed by <paramref name="compress"/>, into a manifest of <paramref name="manifestMediaType"/>.</summary>
    public static async Task<string> PushDerivedImageAsync(TestRegistries registries, string repository, IReadOnlyList<byte[]> extraLayers,
        Func<byte[], (byte[] Blob, string MediaType)> compress, string manifestMediaType, CancellationToken cancellationToken)
    {
        var (registry, baseRepository, baseTag) = TestClients.Split(registries.Images.DockerV2);
        var (client, _) = TestClients.Create();
        var baseManifest = ManifestJson.Deserialize<ImageManifest>((await client.GetManifestAsync(registry, baseRepository, baseTag, cancellationToken)).Content);
        using var pusher = new RegistryPusher(registries.Plain);
        foreach (var blob in baseManifest.Layers.Select(l => l.Digest).Append(baseManifest.Config.Digest))
        {
            await pusher.PushBlobAsync(repository, await client.GetBlobBytesAsync(registry, baseRepository, blob, 64 * 1024 * 1024, cancellationToken), cancellationToken);
        }
        var layers = baseManifest.Layers.ToList();
        foreach (var tar in extraLayers)
        {
            var (blob, mediaType) = compress(tar);
            await pusher.PushBlobAsync(repository, blob, cancellationToken);
            layers.Add(new Descriptor { MediaType = mediaType, Digest = Digest.Sha256(blob), Size = blob.Length });
        }
        var manifest = ManifestJson.Serialize(baseManifest with { MediaType = manifestMediaType, Layers = layers });
        await pusher.PushManifestAsync(repository, "test", manifest, manifestMediaType, cancellationToken);
        return $"{registries.Plain.Host}/{repository}:test";
    }

    public static RegistryClient Client() => TestClients.Create().Client;
}
