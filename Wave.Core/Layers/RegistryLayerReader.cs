using System.IO.Compression;

using Wave.Core.Digests;
using Wave.Core.Manifests;
using Wave.Core.Names;
using Wave.Core.Registry;

namespace Wave.Core.Layers;

/// <summary>
/// Streams one layer of an image from its registry as a tar: decompressed by its media type (tar, gzip or zstd),
/// hashed as the bytes go by, and checked against the manifest's digest once the whole blob has been read, so a caller
/// only ever keeps what it read from bytes the manifest names. Used by the SIF flattener and the scanner. Problems
/// come back through <paramref name="failure"/> in the caller's own exception type, with the image and layer named.
/// </summary>
public static class RegistryLayerReader
{
    private const string OciLayerTar = "application/vnd.oci.image.layer.v1.tar";
    private const string OciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";

    /// <summary>Whether a layer of this media type can be read (a tar, plain or compressed with gzip or zstd).</summary>
    public static bool CanRead(string? mediaType) => CompressionOf(mediaType) is not null;

    /// <summary>Reads the layer's tar through <paramref name="readTar"/>; answers the compressed bytes read.</summary>
    public static async Task<long> ReadAsync(RegistryClient registry, ImageReference image, Descriptor layer,
        Func<Stream, CancellationToken, Task> readTar, Func<string, Exception?, Exception> failure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(readTar);
        ArgumentNullException.ThrowIfNull(failure);
        var compression = CompressionOf(layer.MediaType)
            ?? throw failure($"image {image}: layer {layer.Digest} has media type {layer.MediaType ?? "(none)"}, which is not a tar, gzip or zstd layer", null);
        if (!Digest.IsValid(layer.Digest))
        {
            throw failure($"image {image}: layer digest {layer.Digest} is not a sha256 digest", null);
        }
        using var response = await registry.GetBlobFollowingRedirectsAsync(image.Registry, image.Repository, layer.Digest, cancellationToken);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        await using var hashed = new HashingReadStream(body);
        try
        {
            await using var tar = Decompress(compression, hashed);
            await readTar(tar, cancellationToken);
            await tar.CopyToAsync(Stream.Null, cancellationToken); // the tar's end padding
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or ZstdSharp.ZstdException or EndOfStreamException)
        {
            throw failure($"image {image}: layer {layer.Digest} is not a readable {layer.MediaType ?? "tar"} layer: {e.Message}", e);
        }
        await hashed.CopyToAsync(Stream.Null, cancellationToken); // whatever follows the compressed stream counts for the digest too
        var actual = hashed.Digest();
        if (actual != layer.Digest)
        {
            throw failure($"image {image}: layer {layer.Digest} does not match its digest (its bytes hash to {actual})", null);
        }
        return hashed.BytesRead;
    }

    private enum Compression
    {
        None,
        Gzip,
        Zstd,
    }

    private static Compression? CompressionOf(string? mediaType) => mediaType switch
    {
        MediaTypes.OciLayerGzip or MediaTypes.DockerLayerGzip or "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            or "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Compression.Gzip,
        OciLayerZstd or "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => Compression.Zstd,
        OciLayerTar or "application/vnd.docker.image.rootfs.diff.tar" => Compression.None,
        _ => null,
    };

    private static Stream Decompress(Compression compression, Stream compressed) => compression switch
    {
        Compression.Gzip => new GZipStream(compressed, CompressionMode.Decompress, leaveOpen: true),
        Compression.Zstd => new ZstdSharp.DecompressionStream(compressed, leaveOpen: true),
        _ => new NonClosingStream(compressed),
    };

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
