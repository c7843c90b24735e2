using System.Globalization;

using Wave.Core.Digests;
using Wave.Core.Manifests;

namespace Wave.Core.Augmentation;

/// <summary>An augmented image manifest and its rewritten config, as served (digests are of these exact bytes).</summary>
public sealed record AugmentedImage(byte[] Manifest, string ManifestDigest, string ManifestMediaType, byte[] Config, string ConfigDigest);

/// <summary>A rewritten manifest list / index pointing at augmented manifests.</summary>
public sealed record AugmentedIndex(byte[] Index, string IndexDigest, string IndexMediaType);

/// <summary>
/// The augmentation as pure functions: no I/O. <paramref name="created"/> stamps the history entries; callers pass
/// the container request's creation time so that every process computes the same digests for the same request.
/// </summary>
public static class ManifestAugmenter
{
    public const string HistoryComment = "wave";

    // The OCI "empty" descriptor (artifacts) stands for no filesystem change and has no diff_id.
    private const string OciEmptyMediaType = "application/vnd.oci.empty.v1+json";

    /// <summary>
    /// Appends the requested layers (media type family of the manifest), appends their tarDigest to rootfs.diff_ids
    /// with one history entry each, replaces Entrypoint/Cmd/WorkingDir when given, appends Env, and points the
    /// manifest at the new config.
    /// </summary>
    /// <remarks>
    /// Output depends only on the inputs (no clock, no dictionaries of unstable order), so every process computes
    /// the same bytes and digests. A request without changes returns the input bytes, so the image keeps its digest.
    /// </remarks>
    public static AugmentedImage Augment(ReadOnlySpan<byte> manifest, string manifestMediaType, ReadOnlySpan<byte> config, ContainerConfig request, DateTimeOffset created)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (MediaTypes.IsIndex(manifestMediaType))
        {
            throw new InvalidManifestException($"cannot augment an index ({manifestMediaType}): augment each platform's manifest instead");
        }
        if (!MediaTypes.IsImageManifest(manifestMediaType))
        {
            throw new InvalidManifestException($"cannot augment a manifest of media type '{manifestMediaType}'");
        }
        var layers = request.Layers ?? [];
        ValidateLayers(layers);

        var image = ManifestJson.Deserialize<ImageManifest>(manifest);
        var imageConfig = ManifestJson.Deserialize<ImageConfig>(config);
        // The config is fetched separately from the manifest: make sure the pair belongs together.
        if (image.Config.Digest.StartsWith(Digest.Sha256Prefix, StringComparison.Ordinal) && image.Config.Digest != Digest.Sha256(config))
        {
            throw new InvalidManifestException($"the config bytes do not match the manifest's config digest {image.Config.Digest}");
        }

        var contentLayers = image.Layers.Count(l => l.MediaType != OciEmptyMediaType);
        var diffIds = imageConfig.RootFs?.DiffIds ?? [];
        if (diffIds.Count != contentLayers)
        {
            throw new InvalidManifestException(
                $"the config lists {diffIds.Count} diff_ids but the manifest has {contentLayers} layers");
        }
        if (request.IsEmpty)
        {
            var manifestBytes = manifest.ToArray();
            var configBytes = config.ToArray();
            return new AugmentedImage(manifestBytes, Digest.Sha256(manifestBytes), manifestMediaType, configBytes, Digest.Sha256(configBytes));
        }

        var newConfig = AugmentConfig(imageConfig, request, layers, created);
        var newConfigBytes = ManifestJson.Serialize(newConfig);
        var newConfigDigest = Digest.Sha256(newConfigBytes);

        var layerMediaType = manifestMediaType == MediaTypes.DockerManifest ? MediaTypes.DockerLayerGzip : MediaTypes.OciLayerGzip;
        var newManifest = image with
        {
            Config = image.Config with { Digest = newConfigDigest, Size = newConfigBytes.LongLength },
            Layers = [.. image.Layers, .. layers.Select(l => new Descriptor { MediaType = layerMediaType, Digest = l.GzipDigest!, Size = l.GzipSize })],
        };
        var newManifestBytes = ManifestJson.Serialize(newManifest);
        return new AugmentedImage(newManifestBytes, Digest.Sha256(newManifestBytes), manifestMediaType, newConfigBytes, newConfigDigest);
    }

    /// <summary>
    /// Rewrites an index so that each entry whose digest is a key of <paramref name="augmented"/> points at the
    /// augmented manifest (digest, size, media type); other entries (attestations, unknown platforms) are kept as they are.
    /// </summary>
    public static AugmentedIndex RewriteIndex(ReadOnlySpan<byte> index, string indexMediaType, IReadOnlyDictionary<string, AugmentedImage> augmented)
    {
        ArgumentNullException.ThrowIfNull(augmented);
        if (!MediaTypes.IsIndex(indexMediaType))
        {
            throw new InvalidManifestException($"cannot rewrite '{indexMediaType}' as an index");
        }
        var parsed = ManifestJson.Deserialize<ImageIndex>(index);
        if (!parsed.Manifests.Any(m => augmented.ContainsKey(m.Digest)))
        {
            var unchanged = index.ToArray();
            return new AugmentedIndex(unchanged, Digest.Sha256(unchanged), indexMediaType);
        }

        var rewritten = parsed with
        {
            Manifests = [.. parsed.Manifests.Select(entry => augmented.TryGetValue(entry.Digest, out var image)
                ? entry with { Digest = image.ManifestDigest, Size = image.Manifest.LongLength, MediaType = image.ManifestMediaType }
                : entry)],
        };
        var bytes = ManifestJson.Serialize(rewritten);
        return new AugmentedIndex(bytes, Digest.Sha256(bytes), indexMediaType);
    }

    /// <summary>The history timestamp: RFC 3339 in UTC with 100 ns precision, culture-independent.</summary>
    public static string FormatCreated(DateTimeOffset created) =>
        created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static ImageConfig AugmentConfig(ImageConfig config, ContainerConfig request, IReadOnlyList<ContainerLayer> layers, DateTimeOffset created)
    {
        var settings = config.Config ?? new ContainerSettings();
        settings = settings with
        {
            Entrypoint = request.Entrypoint is { } entrypoint ? [.. entrypoint] : settings.Entrypoint,
            Cmd = request.Cmd is { } cmd ? [.. cmd] : settings.Cmd,
            WorkingDir = request.WorkingDir ?? settings.WorkingDir,
            Env = request.Env is { Count: > 0 } env ? [.. settings.Env ?? [], .. env] : settings.Env,
        };

        if (layers.Count == 0)
        {
            return config with { Config = settings };
        }
        var rootFs = config.RootFs ?? new RootFs();
        var timestamp = FormatCreated(created);
        return config with
        {
            Config = settings,
            RootFs = rootFs with { DiffIds = [.. rootFs.DiffIds, .. layers.Select(l => l.TarDigest!)] },
            History = [.. config.History ?? [], .. layers.Select(l => new HistoryEntry
            {
                Created = timestamp,
                CreatedBy = $"wave: added layer {l.GzipDigest}",
                Comment = HistoryComment,
            })],
        };
    }

    private static void ValidateLayers(IReadOnlyList<ContainerLayer> layers)
    {
        for (var i = 0; i < layers.Count; i++)
        {
            var layer = layers[i] ?? throw new ArgumentException($"layer {i} is null", nameof(layers));
            if (!Digest.IsValid(layer.GzipDigest))
            {
                throw new ArgumentException($"layer {i}: gzipDigest '{layer.GzipDigest}' is not a sha256 digest", nameof(layers));
            }
            if (!Digest.IsValid(layer.TarDigest))
            {
                throw new ArgumentException($"layer {i}: tarDigest '{layer.TarDigest}' is not a sha256 digest", nameof(layers));
            }
            if (layer.GzipSize <= 0)
            {
                throw new ArgumentException($"layer {i}: gzipSize must be positive, not {layer.GzipSize}", nameof(layers));
            }
        }
    }
}
