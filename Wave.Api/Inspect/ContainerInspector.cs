using System.Text.Json.Nodes;

using Wave.Api.Containers;
using Wave.Core.Manifests;
using Wave.Core.Names;
using Wave.Core.Registry;

namespace Wave.Api.Inspect;

/// <summary>
/// Reads an image's manifest and config from its registry (with the configured credentials, or the user's from Seqera
/// Platform). For an index without a platform the index itself is the answer (<c>index</c>); with a platform, that
/// platform's manifest and config (<c>container</c>).
/// </summary>
public sealed class ContainerInspector(RegistryClient defaultRegistry)
{
    private const long MaxConfigBytes = 8 * 1024 * 1024;

    /// <param name="registry">The client to read with: <c>null</c> for Wave's configured credentials.</param>
    public async Task<InspectResponse> InspectAsync(ImageReference image, ContainerPlatform? platform, CancellationToken cancellationToken, RegistryClient? registry = null)
    {
        registry ??= defaultRegistry;
        try
        {
            var manifest = await registry.GetManifestAsync(image.Registry, image.Repository, image.Reference, cancellationToken);
            if (MediaTypes.IsIndex(manifest.MediaType) && platform is not null)
            {
                var index = ManifestJson.Deserialize<ImageIndex>(manifest.Content);
                var entry = index.ManifestFor(platform)
                    ?? throw new ApiException(StatusCodes.Status404NotFound, $"'{image}' has no {platform} manifest");
                manifest = await registry.GetManifestAsync(image.Registry, image.Repository, entry.Digest, cancellationToken);
            }
            if (!MediaTypes.IsImageManifest(manifest.MediaType))
            {
                var index = ManifestJson.Deserialize<ImageIndex>(manifest.Content);
                return new InspectResponse(null, new IndexSpec(index.SchemaVersion, index.MediaType ?? manifest.MediaType,
                    [.. index.Manifests.Select(m => new IndexSpec.ManifestEntry(m.MediaType, m.Digest, m.Size, Annotations(m),
                        m.Platform is { } p ? new IndexSpec.PlatformEntry(p.Architecture, p.Os, p.Variant) : null))],
                    manifest.Digest));
            }
            var parsed = ManifestJson.Deserialize<ImageManifest>(manifest.Content);
            var config = JsonNode.Parse(await registry.GetBlobBytesAsync(image.Registry, image.Repository, parsed.Config.Digest, MaxConfigBytes, cancellationToken))
                ?? throw new InvalidManifestException("the config blob is JSON null");
            return new InspectResponse(new ContainerSpec(
                Registry: image.Registry,
                HostName: registry.BaseUri(image.Registry).GetLeftPart(UriPartial.Authority),
                ImageName: image.Repository,
                Reference: image.Tag ?? image.Reference,
                Digest: manifest.Digest,
                Config: ConfigSpec.Parse(config),
                Manifest: JsonNode.Parse(manifest.Content)!,
                V1: false,
                V2: manifest.MediaType is MediaTypes.DockerManifest or MediaTypes.DockerManifestList,
                Oci: manifest.MediaType is MediaTypes.OciManifest or MediaTypes.OciIndex));
        }
        catch (RegistryException e) when (e.Kind == RegistryErrorKind.NotFound)
        {
            throw new ApiException(StatusCodes.Status404NotFound, $"'{image}' was not found: {e.Message}", "containerImage");
        }
        catch (RegistryException e) when (e.Kind == RegistryErrorKind.Unauthorized)
        {
            throw ApiException.BadRequest("containerImage", $"'{image}' cannot be accessed: {e.Message}");
        }
        catch (RegistryException e)
        {
            throw ApiException.Upstream(e, $"inspecting '{image}'");
        }
        catch (InvalidManifestException e)
        {
            throw new ApiException(StatusCodes.Status502BadGateway, $"registry {image.Registry} returned an invalid manifest for '{image}': {e.Message}");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new ApiException(StatusCodes.Status502BadGateway, $"registry {image.Registry} returned an invalid config for '{image}': {e.Message}");
        }
    }

    private static IReadOnlyDictionary<string, string>? Annotations(Descriptor entry) =>
        entry.ExtensionData?.TryGetValue("annotations", out var value) == true && value.ValueKind == System.Text.Json.JsonValueKind.Object
            ? value.EnumerateObject().ToDictionary(a => a.Name, a => a.Value.ToString(), StringComparer.Ordinal)
            : null;
}
