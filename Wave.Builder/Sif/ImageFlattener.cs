using Wave.Core.Layers;
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

    private static Task ApplyLayerAsync(RegistryClient registry, ImageReference image, Descriptor layer, RootFilesystem root, CancellationToken cancellationToken) =>
        RegistryLayerReader.ReadAsync(registry, image, layer, (tar, token) => root.ApplyLayerAsync(tar, layer.Digest, token),
            (message, inner) => new SifBuildException(message, inner), cancellationToken);

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
}
