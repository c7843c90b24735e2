using Wave.Core.Layers;
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

    private static Task<long> ApplyLayerAsync(RegistryClient registry, ImageReference image, Descriptor layer, ImageFiles files, CancellationToken cancellationToken) =>
        RegistryLayerReader.ReadAsync(registry, image, layer, files.AddLayerAsync, (message, inner) => new ScanException(message, inner), cancellationToken);

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
}
