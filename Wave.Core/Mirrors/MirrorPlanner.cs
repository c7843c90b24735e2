using Wave.Core.Digests;
using Wave.Core.Manifests;

namespace Wave.Core.Mirrors;

/// <summary>A manifest (or index) of the source as fetched, with the digest it was asked for and its media type.</summary>
public sealed record MirrorManifest(string Digest, string MediaType, byte[] Content);

/// <summary>A blob to copy: the digest the target must hold it under, and the size the source says it has.</summary>
public sealed record BlobCopy(string Digest, long Size, string? MediaType);

/// <summary>A manifest to store in the target under <see cref="Reference"/> (its digest, or the tag for the last step).</summary>
public sealed record ManifestPush(string Reference, string Digest, string MediaType, byte[] Content);

/// <summary>
/// What a mirror copies, in the order it must be written: every blob first (configs and layers of every platform, each
/// once), then every manifest by digest, children before the index that lists them, and last the tag, so that the tag
/// appears only once everything it points at is there (a reader that sees the tag sees a whole image).
/// </summary>
public sealed record MirrorPlan(
    string RootDigest,
    string RootMediaType,
    IReadOnlyList<BlobCopy> Blobs,
    IReadOnlyList<ManifestPush> Manifests,
    IReadOnlyList<string> Platforms,
    IReadOnlyList<BlobCopy> ForeignLayers)
{
    public long TotalBytes => Blobs.Sum(b => b.Size);
}

/// <summary>The source cannot be mirrored as it is (an unsupported or malformed manifest); the message says which and why.</summary>
public sealed class UnsupportedMirrorSourceException(string message) : Exception(message);

/// <summary>
/// Plans a mirror from the source's manifests, with no I/O: the caller fetches the root, asks
/// <see cref="MissingManifests"/> which manifests it lists that are not fetched yet, fetches those, and asks again until
/// none is missing; then <see cref="Plan"/> says what to copy, in what order. Each manifest's bytes are checked against
/// the digest they were fetched by, so a plan is made from verified documents only; the manifests are pushed with the
/// exact bytes read, so the target's digests equal the source's.
/// </summary>
public static class MirrorPlanner
{
    /// <summary>An index nested deeper than this (index → index → manifest is 2) is refused: no registry tool writes one.</summary>
    public const int MaxDepth = 3;

    /// <summary>Manifests in one plan at most (a guard against an index that lists itself round about).</summary>
    public const int MaxManifests = 1024;

    /// <summary>The digests listed by fetched indexes (from <paramref name="rootDigest"/> down) that are not in <paramref name="fetched"/> yet.</summary>
    public static IReadOnlyList<string> MissingManifests(string rootDigest, IReadOnlyDictionary<string, MirrorManifest> fetched)
    {
        var missing = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        Walk(rootDigest, 0);
        return missing;

        void Walk(string digest, int depth)
        {
            if (!seen.Add(digest))
            {
                return;
            }
            if (!fetched.TryGetValue(digest, out var manifest))
            {
                missing.Add(digest);
                return;
            }
            if (!MediaTypes.IsIndex(manifest.MediaType))
            {
                return;
            }
            CheckDepth(digest, depth);
            foreach (var child in ReadIndex(manifest).Manifests)
            {
                Walk(child.Digest, depth + 1);
            }
        }
    }

    /// <param name="rootDigest">The digest the source tag (or reference) resolved to.</param>
    /// <param name="tag">The target tag, pushed last; null when the image is mirrored by digest only.</param>
    /// <param name="fetched">Every manifest reachable from the root, by digest (see <see cref="MissingManifests"/>).</param>
    public static MirrorPlan Plan(string rootDigest, string? tag, IReadOnlyDictionary<string, MirrorManifest> fetched)
    {
        var blobs = new List<BlobCopy>();
        var foreign = new List<BlobCopy>();
        var blobSeen = new HashSet<string>(StringComparer.Ordinal);
        var pushes = new List<ManifestPush>();
        var pushed = new HashSet<string>(StringComparer.Ordinal);
        var visiting = new HashSet<string>(StringComparer.Ordinal);
        var platforms = new List<string>();
        if (!fetched.TryGetValue(rootDigest, out var root))
        {
            throw new ArgumentException($"the root manifest {rootDigest} was not fetched", nameof(fetched));
        }
        Visit(root, 0);
        if (tag is not null)
        {
            pushes.Add(new ManifestPush(tag, root.Digest, root.MediaType, root.Content));
        }
        return new MirrorPlan(root.Digest, root.MediaType, blobs, pushes, platforms, foreign);

        void Visit(MirrorManifest manifest, int depth)
        {
            if (pushed.Contains(manifest.Digest))
            {
                return;
            }
            if (!visiting.Add(manifest.Digest))
            {
                throw new UnsupportedMirrorSourceException($"index {manifest.Digest} lists itself (directly or through another index)");
            }
            if (!Digest.Matches(manifest.Digest, manifest.Content))
            {
                throw new UnsupportedMirrorSourceException($"manifest {manifest.Digest} does not hash to its digest (it is {Digest.Sha256(manifest.Content)})");
            }
            if (MediaTypes.IsIndex(manifest.MediaType))
            {
                CheckDepth(manifest.Digest, depth);
                foreach (var child in ReadIndex(manifest).Manifests)
                {
                    if (!fetched.TryGetValue(child.Digest, out var childManifest))
                    {
                        throw new ArgumentException($"manifest {child.Digest} listed by index {manifest.Digest} was not fetched", nameof(fetched));
                    }
                    if (child.Size != childManifest.Content.LongLength)
                    {
                        throw new UnsupportedMirrorSourceException(
                            $"index {manifest.Digest} says manifest {child.Digest} has {child.Size} bytes, but it has {childManifest.Content.LongLength}");
                    }
                    if (depth == 0 && child.Platform is { } platform)
                    {
                        platforms.Add($"{platform.Os ?? "unknown"}/{platform.Architecture ?? "unknown"}{(platform.Variant is null ? "" : "/" + platform.Variant)}");
                    }
                    Visit(childManifest, depth + 1);
                }
            }
            else if (MediaTypes.IsImageManifest(manifest.MediaType))
            {
                var image = ReadImage(manifest);
                AddBlob(image.Config, manifest.Digest, "config");
                foreach (var layer in image.Layers)
                {
                    if (IsForeign(layer.MediaType))
                    {
                        // Not distributable: registries do not hold these (Windows base layers); the manifest points at their URLs.
                        foreign.Add(new BlobCopy(layer.Digest, layer.Size, layer.MediaType));
                        continue;
                    }
                    AddBlob(layer, manifest.Digest, "layer");
                }
            }
            else
            {
                throw new UnsupportedMirrorSourceException($"manifest {manifest.Digest} has media type {manifest.MediaType}, which cannot be mirrored (Docker schema 2 and OCI manifests and indexes can)");
            }
            visiting.Remove(manifest.Digest);
            pushed.Add(manifest.Digest);
            if (pushes.Count >= MaxManifests)
            {
                throw new UnsupportedMirrorSourceException($"the image lists more than {MaxManifests} manifests");
            }
            pushes.Add(new ManifestPush(manifest.Digest, manifest.Digest, manifest.MediaType, manifest.Content));
        }

        void AddBlob(Descriptor descriptor, string manifestDigest, string what)
        {
            if (!Digest.IsWellFormed(descriptor.Digest))
            {
                throw new UnsupportedMirrorSourceException($"manifest {manifestDigest} names a {what} by '{descriptor.Digest}', which is not a digest");
            }
            if (descriptor.Size < 0)
            {
                throw new UnsupportedMirrorSourceException($"manifest {manifestDigest} gives {what} {descriptor.Digest} a negative size");
            }
            if (blobSeen.Add(descriptor.Digest))
            {
                blobs.Add(new BlobCopy(descriptor.Digest, descriptor.Size, descriptor.MediaType));
            }
        }
    }

    /// <summary>Layers a registry does not distribute (Docker foreign layers, OCI non-distributable layers).</summary>
    public static bool IsForeign(string? mediaType) =>
        mediaType is not null && (mediaType.Contains(".foreign.", StringComparison.Ordinal) || mediaType.Contains(".nondistributable.", StringComparison.Ordinal));

    private static void CheckDepth(string digest, int depth)
    {
        if (depth >= MaxDepth - 1)
        {
            throw new UnsupportedMirrorSourceException($"index {digest} is nested {depth + 1} levels deep; at most {MaxDepth - 1} levels of indexes are mirrored");
        }
    }

    private static ImageIndex ReadIndex(MirrorManifest manifest)
    {
        ImageIndex index;
        try
        {
            index = ManifestJson.Deserialize<ImageIndex>(manifest.Content);
        }
        catch (InvalidManifestException e)
        {
            throw new UnsupportedMirrorSourceException($"index {manifest.Digest}: {e.Message}");
        }
        foreach (var child in index.Manifests)
        {
            if (!Digest.IsWellFormed(child.Digest))
            {
                throw new UnsupportedMirrorSourceException($"index {manifest.Digest} lists '{child.Digest}', which is not a digest");
            }
        }
        return index;
    }

    private static ImageManifest ReadImage(MirrorManifest manifest)
    {
        try
        {
            return ManifestJson.Deserialize<ImageManifest>(manifest.Content);
        }
        catch (InvalidManifestException e)
        {
            throw new UnsupportedMirrorSourceException($"manifest {manifest.Digest}: {e.Message}");
        }
    }
}
