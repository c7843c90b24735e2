using System.IO.Compression;

using Wave.Core.Digests;
using Wave.Core.Manifests;
using Wave.Core.Names;
using Wave.Core.Registry;

namespace Wave.Builder.Sif;

/// <summary>An image unpacked into a root filesystem: the manifest it came from, its config and its layers in order.</summary>
public sealed record FlattenedImage(string ManifestDigest, ImageConfig Config, IReadOnlyList<string> LayerDigests);

/// <summary>
/// Unpacks an image from a registry into a <see cref="RootFilesystem"/>: the manifest for the platform (through an
/// index when there is one), the config, then each layer streamed from the registry, decompressed and applied in order.
/// Each layer's bytes are hashed as they stream by and checked against the manifest's digest.
/// </summary>
public static class ImageFlattener
{
    private const long MaxConfigBytes = 16 * 1024 * 1024;

    public static async Task<FlattenedImage> FlattenAsync(RegistryClient registry, ImageReference image, ContainerPlatform platform, RootFilesystem root, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(platform);
        ArgumentNullException.ThrowIfNull(root);

        var response = await registry.GetManifestAsync(image.Registry, image.Repository, image.Reference, cancellationToken);
        if (MediaTypes.IsIndex(response.MediaType))
        {
            var index = Read<ImageIndex>(image, response.Content);
            var entry = index.ManifestFor(platform)
                ?? throw new SifBuildException($"image {image} has no manifest for {platform}");
            response = await registry.GetManifestAsync(image.Registry, image.Repository, entry.Digest, cancellationToken);
        }
        var manifest = Read<ImageManifest>(image, response.Content);
        var configBytes = await registry.GetBlobBytesAsync(image.Registry, image.Repository, manifest.Config.Digest, MaxConfigBytes, cancellationToken);
        var config = Read<ImageConfig>(image, configBytes);
        if (config.Architecture is { } architecture && !platform.Matches(config.Os ?? platform.Os, architecture, null))
        {
            throw new SifBuildException($"image {image} is for {config.Os}/{architecture}, not {platform}");
        }

        foreach (var layer in manifest.Layers)
        {
            await ApplyLayerAsync(registry, image, layer, root, cancellationToken);
        }
        root.RestoreDirectoryModes();
        return new FlattenedImage(response.Digest, config, [.. manifest.Layers.Select(l => l.Digest)]);
    }

    private static async Task ApplyLayerAsync(RegistryClient registry, ImageReference image, Descriptor layer, RootFilesystem root, CancellationToken cancellationToken)
    {
        var compression = CompressionOf(layer.MediaType)
            ?? throw new SifBuildException($"image {image}: layer {layer.Digest} has media type {layer.MediaType ?? "(none)"}, which is not a tar or gzip tar layer");
        if (!layer.Digest.StartsWith(Digest.Sha256Prefix, StringComparison.Ordinal))
        {
            throw new SifBuildException($"image {image}: layer digest {layer.Digest} is not a sha256 digest");
        }
        using var response = await registry.GetBlobFollowingRedirectsAsync(image.Registry, image.Repository, layer.Digest, cancellationToken);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        await using var hashed = new HashingReadStream(body);
        await using (var tar = compression == Compression.Gzip ? new GZipStream(hashed, CompressionMode.Decompress, leaveOpen: true) : (Stream)new NonClosingStream(hashed))
        {
            await root.ApplyLayerAsync(tar, layer.Digest, cancellationToken);
            await tar.CopyToAsync(Stream.Null, cancellationToken); // the tar's end padding
        }
        await hashed.CopyToAsync(Stream.Null, cancellationToken); // anything after the gzip stream
        var actual = hashed.Digest();
        if (actual != layer.Digest)
        {
            throw new SifBuildException($"image {image}: layer {layer.Digest} does not match its digest (the bytes hash to {actual})");
        }
    }

    private enum Compression
    {
        None,
        Gzip,
    }

    private static Compression? CompressionOf(string? mediaType) => mediaType switch
    {
        MediaTypes.OciLayerGzip or MediaTypes.DockerLayerGzip or "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            or "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Compression.Gzip,
        "application/vnd.oci.image.layer.v1.tar" or "application/vnd.docker.image.rootfs.diff.tar" => Compression.None,
        _ => null,
    };

    private static T Read<T>(ImageReference image, byte[] json) where T : class
    {
        try
        {
            return ManifestJson.Deserialize<T>(json);
        }
        catch (InvalidManifestException e)
        {
            throw new SifBuildException($"image {image}: {e.Message}", e);
        }
    }

    /// <summary>An uncompressed layer read through the hashing stream without disposing it.</summary>
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
