using System.Text.Json.Nodes;

using Wave.Api.Containers;
using Wave.Core.Manifests;
using Wave.Core.Names;
using Wave.Core.Registry;

namespace Wave.Api.Inspect;

/// <summary>
/// Reads an image's manifest and config from its registry (with the configured credentials). For an index without a
/// platform the index itself is the answer (no config); with a platform, that platform's manifest and config.
/// </summary>
public sealed class ContainerInspector(RegistryClient registry)
{
    private const long MaxConfigBytes = 8 * 1024 * 1024;

    public async Task<ContainerSpec> InspectAsync(ImageReference image, ContainerPlatform? platform, CancellationToken cancellationToken)
    {
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
            JsonNode? config = null;
            if (MediaTypes.IsImageManifest(manifest.MediaType))
            {
                var parsed = ManifestJson.Deserialize<ImageManifest>(manifest.Content);
                config = JsonNode.Parse(await registry.GetBlobBytesAsync(image.Registry, image.Repository, parsed.Config.Digest, MaxConfigBytes, cancellationToken));
            }
            return new ContainerSpec(
                Registry: image.Registry,
                HostName: registry.BaseUri(image.Registry).GetLeftPart(UriPartial.Authority),
                ImageName: image.Repository,
                Reference: image.Tag ?? image.Reference,
                Digest: manifest.Digest,
                Config: config,
                Manifest: JsonNode.Parse(manifest.Content)!,
                V1: false,
                V2: manifest.MediaType is MediaTypes.DockerManifest or MediaTypes.DockerManifestList,
                Oci: manifest.MediaType is MediaTypes.OciManifest or MediaTypes.OciIndex);
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
    }
}
