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
    /// <summary>
    /// Appends the requested layers (media type family of the manifest), appends their tarDigest to rootfs.diff_ids
    /// with one history entry each, replaces Entrypoint/Cmd/WorkingDir when given, appends Env, and points the
    /// manifest at the new config.
    /// </summary>
    public static AugmentedImage Augment(ReadOnlySpan<byte> manifest, string manifestMediaType, ReadOnlySpan<byte> config, ContainerConfig request, DateTimeOffset created)
        => throw new NotImplementedException();

    /// <summary>
    /// Rewrites an index so that each entry whose digest is a key of <paramref name="augmented"/> points at the
    /// augmented manifest (digest, size, media type); other entries (attestations, unknown platforms) are kept as they are.
    /// </summary>
    public static AugmentedIndex RewriteIndex(ReadOnlySpan<byte> index, string indexMediaType, IReadOnlyDictionary<string, AugmentedImage> augmented)
        => throw new NotImplementedException();
}
