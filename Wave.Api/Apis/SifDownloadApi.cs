using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;

using Microsoft.Net.Http.Headers;

using Wave.Api.Containers;
using Wave.Core.Builds;
using Wave.Core.Digests;
using Wave.Core.Names;
using Wave.Core.Persistence;
using Wave.Core.Registry;
using Wave.Core.Sif;

namespace Wave.Api.Apis;

/// <summary>
/// <c>GET /v1alpha1/builds/{buildId}/sif</c>: the SIF file of a succeeded SIF build as a plain download, for clients
/// without ORAS. The artifact is resolved by the manifest digest the build recorded (a moved tag does not change what
/// is served), its one layer is streamed from the registry with Wave's credentials and hashed on the way: if the bytes
/// do not match the digest the connection is aborted before the last chunk, so a corrupt file never arrives complete.
/// </summary>
/// <remarks>
/// Answers: 200 with <c>Content-Type: application/octet-stream</c>, <c>Content-Length</c>,
/// <c>Docker-Content-Digest</c> (<c>sha256:…</c>), <c>Digest</c> (RFC 3230, <c>sha-256=&lt;base64&gt;</c>), <c>ETag</c>
/// and <c>Content-Disposition: attachment; filename=…</c> (the artifact's title annotation); 404 for an unknown build,
/// a build that is not a SIF build, a failed build, or an artifact gone from the registry; 409 while the build is
/// pending or running (try again once <c>/status</c> says COMPLETED); 502/504 when the registry fails.
/// </remarks>
public static class SifDownloadApi
{
    public const string DockerContentDigestHeader = "Docker-Content-Digest";
    public const string DigestHeader = "Digest";

    private const int CopyBufferBytes = 128 * 1024;
    private const int MaxManifestBytes = 64 * 1024;

    public static RouteGroupBuilder MapSifDownload(this RouteGroupBuilder builds)
    {
        builds.MapGet("/sif", GetSifAsync);
        return builds;
    }

    private sealed record SifLayer(string Digest, long Size, string FileName);

    private static async Task<IResult> GetSifAsync(string buildId, HttpContext context, IBuildStore store, RegistryClient registry, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (!BuildsApi.TryNormalize(buildId, out var id))
        {
            return ContainerApi.Error(StatusCodes.Status400BadRequest, $"buildId '{buildId}' is not a build id (bd-<16 hex digits>_<attempt>)", "buildId");
        }
        var record = await store.FindAsync(id, cancellationToken);
        if (record is null)
        {
            return NotFound($"build {id} is unknown");
        }
        if (!string.Equals(record.Format, BuildPlanner.SifFormat, StringComparison.OrdinalIgnoreCase))
        {
            return NotFound($"build {id} is not a SIF build (format {record.Format}): it has no SIF file, pull its image {record.TargetImage}");
        }
        if (record.Status != BuildStatus.Completed)
        {
            return ContainerApi.Error(StatusCodes.Status409Conflict,
                $"build {id} is {record.Status.ToWire()}: its SIF can be downloaded once /v1alpha1/builds/{id}/status says COMPLETED");
        }
        if (record.Succeeded != true || record.ImageDigest is null)
        {
            return NotFound($"build {id} failed ({record.FailureReason ?? "no reason recorded"}): it has no SIF file");
        }
        if (!ImageReference.TryParse(record.TargetImage, out var target, out _))
        {
            return NotFound($"build {id} has no valid target image ('{record.TargetImage}')");
        }

        SifLayer layer;
        HttpResponseMessage upstream;
        try
        {
            var manifest = await registry.GetManifestAsync(target.Registry, target.Repository, record.ImageDigest, cancellationToken);
            if (ReadLayer(manifest.Content, target) is not { } found)
            {
                return ContainerApi.Error(StatusCodes.Status502BadGateway,
                    $"{target.Name}@{record.ImageDigest} in registry {target.Registry} is not a SIF artifact (config {SifArtifact.ConfigMediaType} and one {SifArtifact.LayerMediaType} layer)");
            }
            layer = found;
            upstream = await registry.GetBlobFollowingRedirectsAsync(target.Registry, target.Repository, layer.Digest, cancellationToken);
        }
        catch (RegistryException e) when (e.Kind == RegistryErrorKind.NotFound)
        {
            return NotFound($"the SIF of build {id} ({target.Name}@{record.ImageDigest}) is no longer in registry {target.Registry}: {e.Message}");
        }
        catch (RegistryException e)
        {
            var error = ApiException.Upstream(e, $"reading the SIF of build {id}");
            return ContainerApi.Error(error.StatusCode, error.Message);
        }

        using (upstream)
        {
            var response = context.Response;
            response.ContentType = "application/octet-stream";
            response.ContentLength = layer.Size;
            response.Headers[DockerContentDigestHeader] = layer.Digest;
            response.Headers[DigestHeader] = "sha-256=" + Convert.ToBase64String(Convert.FromHexString(layer.Digest["sha256:".Length..]));
            response.Headers.ETag = $"\"{layer.Digest}\"";
            var disposition = new ContentDispositionHeaderValue("attachment");
            disposition.SetHttpFileName(layer.FileName);
            response.Headers.ContentDisposition = disposition.ToString();
            var problem = await CopyVerifiedAsync(context, upstream, layer, cancellationToken);
            if (problem is not null)
            {
                loggers.CreateLogger(typeof(SifDownloadApi)).LogError("SIF download of build {BuildId} aborted: {Problem}", id, problem);
                context.Abort();
            }
        }
        return Results.Empty;
    }

    /// <summary>The SIF layer of an ORAS manifest, or null when the document is not one.</summary>
    private static SifLayer? ReadLayer(byte[] manifest, ImageReference target)
    {
        if (manifest.Length > MaxManifestBytes)
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(manifest);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("config", out var config) || config.ValueKind != JsonValueKind.Object
                || !config.TryGetProperty("mediaType", out var configType) || configType.ValueKind != JsonValueKind.String
                || configType.GetString() != SifArtifact.ConfigMediaType
                || !root.TryGetProperty("layers", out var layers) || layers.ValueKind != JsonValueKind.Array)
            {
                return null;
            }
            var sifLayers = layers.EnumerateArray()
                .Where(l => l.ValueKind == JsonValueKind.Object && l.TryGetProperty("mediaType", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == SifArtifact.LayerMediaType)
                .ToList();
            if (sifLayers.Count != 1
                || !sifLayers[0].TryGetProperty("digest", out var digest) || digest.ValueKind != JsonValueKind.String || !Digest.IsValid(digest.GetString())
                || !sifLayers[0].TryGetProperty("size", out var size) || !size.TryGetInt64(out var length) || length < 0)
            {
                return null;
            }
            string? title = null;
            if (sifLayers[0].TryGetProperty("annotations", out var annotations) && annotations.ValueKind == JsonValueKind.Object
                && annotations.TryGetProperty(SifArtifact.TitleAnnotation, out var titleValue) && titleValue.ValueKind == JsonValueKind.String)
            {
                title = titleValue.GetString();
            }
            return new SifLayer(digest.GetString()!, length, FileName(title, target));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The title annotation when it is a plain file name, else <c>&lt;repository name&gt;.sif</c>.</summary>
    private static string FileName(string? title, ImageReference target)
    {
        if (title is { Length: > 0 and <= 255 } && title.IndexOfAny(['/', '\\']) < 0 && !title.Any(char.IsControl) && title is not ("." or ".."))
        {
            return title;
        }
        return target.Repository[(target.Repository.LastIndexOf('/') + 1)..] + ".sif";
    }

    /// <summary>
    /// Streams the blob into the response while hashing it. The last read is held back until the whole blob is known
    /// to match its digest and size, so that a mismatch leaves the download short of its Content-Length.
    /// </summary>
    /// <returns>Null when the blob arrived whole and verified, else what went wrong (the caller aborts the connection).</returns>
    private static async Task<string?> CopyVerifiedAsync(HttpContext context, HttpResponseMessage upstream, SifLayer layer, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var body = context.Response.Body;
        var held = ArrayPool<byte>.Shared.Rent(CopyBufferBytes);
        var next = ArrayPool<byte>.Shared.Rent(CopyBufferBytes);
        try
        {
            await using var source = await upstream.Content.ReadAsStreamAsync(cancellationToken);
            var heldCount = 0;
            long total = 0;
            while (true)
            {
                int read;
                try
                {
                    read = await source.ReadAsync(next.AsMemory(0, CopyBufferBytes), cancellationToken);
                }
                catch (Exception e) when (e is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
                {
                    return $"the registry broke the connection after {total} bytes: {e.Message}";
                }
                if (read == 0)
                {
                    break;
                }
                total += read;
                if (total > layer.Size)
                {
                    return $"the registry sent more than the {layer.Size} bytes of {layer.Digest}";
                }
                hash.AppendData(next.AsSpan(0, read));
                if (heldCount > 0)
                {
                    await body.WriteAsync(held.AsMemory(0, heldCount), cancellationToken);
                }
                (held, next) = (next, held);
                heldCount = read;
            }
            if (total != layer.Size)
            {
                return $"the registry sent {total} of the {layer.Size} bytes of {layer.Digest}";
            }
            var actual = "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
            if (actual != layer.Digest)
            {
                return $"the registry's bytes for {layer.Digest} hash to {actual}";
            }
            if (heldCount > 0)
            {
                await body.WriteAsync(held.AsMemory(0, heldCount), cancellationToken);
            }
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(held);
            ArrayPool<byte>.Shared.Return(next);
        }
    }

    private static IResult NotFound(string message) => ContainerApi.Error(StatusCodes.Status404NotFound, message);
}
