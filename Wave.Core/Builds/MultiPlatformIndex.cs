using Wave.Core.Manifests;
using Wave.Core.Names;

namespace Wave.Core.Builds;

/// <summary>One platform's image of a multi-platform build, as pushed: its manifest's media type, digest and size.</summary>
public sealed record PlatformImage(ContainerPlatform Platform, string MediaType, string Digest, long Size);

/// <summary>
/// Names and the index of a multi-platform build. Each platform is built on its own (so that each can run where its
/// architecture runs: under emulation locally, on a node of that architecture on Kubernetes) and pushed under
/// <see cref="PlatformTarget"/>; the index naming all of them is pushed under the build's own tag last, so the tag
/// exists only once every platform is there.
/// </summary>
public static class MultiPlatformIndex
{
    /// <summary><c>registry/repo:TAG-linux-arm64</c> for <c>registry/repo:TAG</c>: where one platform's image is pushed.</summary>
    public static string PlatformTarget(string targetImage, string platform)
    {
        var suffix = "-" + platform.Replace('/', '-');
        return targetImage + suffix;
    }

    /// <summary>
    /// A Docker manifest list when every image is a Docker schema 2 manifest, else an OCI image index (a zstd image is an
    /// OCI manifest), listing the images in the order given with their platforms.
    /// </summary>
    public static (byte[] Content, string MediaType) Compose(IReadOnlyList<PlatformImage> images)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(images.Count, 1);
        var mediaType = images.All(i => i.MediaType == MediaTypes.DockerManifest) ? MediaTypes.DockerManifestList : MediaTypes.OciIndex;
        var index = new ImageIndex
        {
            SchemaVersion = 2,
            MediaType = mediaType,
            Manifests = images.Select(i => new Descriptor
            {
                MediaType = i.MediaType,
                Digest = i.Digest,
                Size = i.Size,
                Platform = new PlatformSpec { Architecture = i.Platform.Architecture, Os = i.Platform.Os, Variant = i.Platform.Variant },
            }).ToList(),
        };
        return (ManifestJson.Serialize(index), mediaType);
    }
}
