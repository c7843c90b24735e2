using System.IO.Compression;

using Wave.Core.Digests;
using Wave.Core.Manifests;
using Wave.Core.Names;
using Wave.Core.Registry;
using Wave.Core.Scans.Sbom;

namespace Wave.Core.Scans;

/// <summary>An image as a scan read it: what it is (for the SBOM), what it has installed, and how many layers and bytes that took.</summary>
public sealed record ImageInventory(SbomSubject Subject, ImageContents Contents, int Layers, long CompressedBytes);

/// <summary>
/// Reads an image's installed packages from a registry: the manifest (an index's entry for the platform asked for),
/// then every layer in order, streamed (never stored) through decompression into <see cref="ImageFiles"/>. Each
/// layer's bytes are hashed as they go by and must match the manifest's digest, or the scan fails: an SBOM is only
/// ever made of the bytes the manifest names. Layers may be tar, gzip or zstd.
/// </summary>
public static class ImageReader
{
    private const long MaxConfigBytes = 16 * 1024 * 1024;
    private const string ZstdLayer = "application/vnd.oci.image.layer.v1.tar+zstd";

    public static async Task<ImageInventory> ReadAsync(RegistryClient registry, ImageReference image, ContainerPlatform platform,
        Action<string> log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(platform);
        var response = await registry.GetManifestAsync(image.Registry, image.Repository, image.Reference, cancellationToken);
        var platformName = platform.ToString();
        if (MediaTypes.IsIndex(response.MediaType))
        {
            var index = Read<ImageIndex>(image, response.Content);
            var entry = index.ManifestFor(platform)
                ?? throw new ScanException($"image {image} has no manifest for {platform} (its index lists " +
                    $"{string.Join(", ", index.Manifests.Where(m => m.Platform is not null).Select(m => $"{m.Platform!.Os}/{m.Platform.Architecture}").Distinct())})");
            log($"index {response.Digest}: the {platform} manifest is {entry.Digest}");
            response = await registry.GetManifestAsync(image.Registry, image.Repository, entry.Digest, cancellationToken);
        }
        if (!MediaTypes.IsImageManifest(response.MediaType))
        {
            throw new ScanException($"image {image}: {response.MediaType} is not an image manifest");
        }
        var manifest = Read<ImageManifest>(image, response.Content);
        var config = Read<ImageConfig>(image, await registry.GetBlobBytesAsync(image.Registry, image.Repository, manifest.Config.Digest, MaxConfigBytes, cancellationToken));
        if (config.Os is { } os && config.Architecture is { } architecture)
        {
            platformName = $"{os}/{architecture}";
        }
        log($"manifest {response.Digest} ({platformName}): {manifest.Layers.Count} layers");

        var files = new ImageFiles();
        long total = 0;
        foreach (var layer in manifest.Layers)
        {
            total += await ApplyLayerAsync(registry, image, layer, files, cancellationToken);
        }
        var contents = PackageInventory.Read(files.Files());
        var subject = new SbomSubject(image.ToString(), image.Registry, image.Repository, response.Digest, platformName);
        return new ImageInventory(subject, contents, manifest.Layers.Count, total);
    }

    private static async Task<long> ApplyLayerAsync(RegistryClient registry, ImageReference image, Descriptor layer, ImageFiles files, CancellationToken cancellationToken)
    {
        if (!Digest.IsValid(layer.Digest))
        {
            throw new ScanException($"image {image}: layer digest {layer.Digest} is not a sha256 digest");
        }
        using var response = await registry.GetBlobFollowingRedirectsAsync(image.Registry, image.Repository, layer.Digest, cancellationToken);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        await using var hashed = new HashingReadStream(body);
        await using (var tar = Decompress(image, layer, hashed))
        {
            try
            {
                await files.AddLayerAsync(tar, cancellationToken);
                await tar.CopyToAsync(Stream.Null, cancellationToken); // the tar's end padding
            }
            catch (Exception e) when (e is InvalidDataException or FormatException or ZstdSharp.ZstdException or EndOfStreamException)
            {
                throw new ScanException($"image {image}: layer {layer.Digest} is not a readable {layer.MediaType ?? "tar"} layer: {e.Message}", e);
            }
        }
        await hashed.CopyToAsync(Stream.Null, cancellationToken); // whatever follows the compressed stream counts for the digest too
        var actual = hashed.Digest();
        if (actual != layer.Digest)
        {
            throw new ScanException($"image {image}: layer {layer.Digest} does not match its digest (its bytes hash to {actual})");
        }
        return hashed.BytesRead;
    }

    private static Stream Decompress(ImageReference image, Descriptor layer, Stream compressed) => layer.MediaType switch
    {
        MediaTypes.OciLayerGzip or MediaTypes.DockerLayerGzip or "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            or "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => new GZipStream(compressed, CompressionMode.Decompress, leaveOpen: true),
        ZstdLayer or "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => new ZstdSharp.DecompressionStream(compressed, leaveOpen: true),
        "application/vnd.oci.image.layer.v1.tar" or "application/vnd.docker.image.rootfs.diff.tar" => new NonClosingStream(compressed),
        _ => throw new ScanException($"image {image}: layer {layer.Digest} has media type {layer.MediaType ?? "(none)"}, which is not a tar, gzip or zstd layer"),
    };

    private static T Read<T>(ImageReference image, byte[] json) where T : class
    {
        try
        {
            return ManifestJson.Deserialize<T>(json);
        }
        catch (InvalidManifestException e)
        {
            throw new ScanException($"image {image}: {e.Message}", e);
        }
    }

    /// <summary>An uncompressed layer read straight from the hashing stream, which its disposal leaves open.</summary>
    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override int Read(Span<byte> buffer) => inner.Read(buffer);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
