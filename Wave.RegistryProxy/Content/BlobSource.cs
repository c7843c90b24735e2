using Microsoft.Extensions.Caching.Memory;

using Wave.Core.Augmentation;
using Wave.Core.Layers;
using Wave.Core.Requests;

namespace Wave.RegistryProxy.Content;

/// <summary>Where a blob requested under a token comes from.</summary>
public abstract record BlobSource
{
    private BlobSource()
    {
    }

    /// <summary>Bytes Wave holds itself: a rewritten config, or a data: layer.</summary>
    public sealed record Local(byte[] Bytes, string Digest) : BlobSource;

    /// <summary>An added layer at an http(s) location: the client is sent there.</summary>
    public sealed record Redirect(Uri Location) : BlobSource;

    /// <summary>Any other digest: it belongs to the upstream image.</summary>
    public sealed record Upstream : BlobSource;

    public static readonly BlobSource FromUpstream = new Upstream();
}

/// <summary>Decides a blob's source; decoded data: layers are kept in the proxy's memory cache by digest.</summary>
public sealed class BlobLocator(AugmentedImageResolver resolver, ProxyMemoryCache cache)
{
    public async Task<BlobSource> LocateAsync(ContainerRequest request, string digest, CancellationToken cancellationToken)
    {
        var layer = request.ContainerConfig?.Layers?.FirstOrDefault(l => l.GzipDigest == digest);
        if (layer is not null)
        {
            return Layer(layer, digest);
        }
        if (request.IsAugmented && await resolver.FindByDigestAsync(request, digest, cancellationToken) is { } content)
        {
            return new BlobSource.Local(content.Bytes, content.Digest);
        }
        return BlobSource.FromUpstream;
    }

    private BlobSource Layer(ContainerLayer layer, string digest)
    {
        LayerLocation.TryParse(layer.Location, out var location, out _);
        switch (location)
        {
            case LayerLocation.Remote remote:
                return new BlobSource.Redirect(remote.Uri);
            case LayerLocation.Inline inline:
                var bytes = cache.Cache.GetOrCreate("layer:" + digest, entry =>
                {
                    // Validated when the token was issued: the bytes match gzipDigest.
                    var decoded = inline.TryDecode() ?? throw new InvalidDataException($"data: layer {digest} is not valid base64");
                    entry.Size = decoded.Length;
                    entry.SlidingExpiration = TimeSpan.FromHours(1);
                    return decoded;
                })!;
                return new BlobSource.Local(bytes, digest);
            default:
                throw new InvalidDataException($"layer {digest} has no valid location");
        }
    }
}
