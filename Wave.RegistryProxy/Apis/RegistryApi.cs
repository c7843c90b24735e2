using System.Security.Cryptography;

using Wave.Core.Digests;
using Wave.Core.Manifests;
using Wave.Core.Names;
using Wave.Core.Registry;
using Wave.Core.Requests;
using Wave.Core.State;
using Wave.RegistryProxy.Content;
using Wave.RegistryProxy.Errors;
using Wave.RegistryProxy.Pulls;
using Wave.RegistryProxy.Routing;

namespace Wave.RegistryProxy.Apis;

/// <summary>The read side of the distribution API under <c>/v2/wt/&lt;token&gt;/…</c>.</summary>
public static class RegistryApi
{
    public const string ApiVersionHeader = "Docker-Distribution-Api-Version";
    public const string DigestHeader = "Docker-Content-Digest";

    public static IEndpointRouteBuilder MapRegistryApi(this IEndpointRouteBuilder app)
    {
        var v2 = app.MapGroup("/v2").AddEndpointFilter(async (context, next) =>
        {
            context.HttpContext.Response.Headers[ApiVersionHeader] = "registry/2.0";
            try
            {
                return await next(context);
            }
            catch (Exception e) when (ToOciError(e) is { } error)
            {
                if (error.StatusCode >= 500)
                {
                    context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RegistryApi))
                        .LogWarning("{Method} {Path} failed: {Status} {Message}", context.HttpContext.Request.Method, context.HttpContext.Request.Path, error.StatusCode, error.Message);
                }
                return error.ToResult();
            }
        });
        v2.MapMethods("/", ["GET", "HEAD"], () => TypedResults.Json(new { }));
        v2.MapMethods("/{**path}", ["GET", "HEAD"], Dispatch);
        v2.MapMethods("/{**path}", ["POST", "PUT", "PATCH", "DELETE"], () =>
            new OciErrorException(StatusCodes.Status405MethodNotAllowed, OciErrorCodes.Unsupported, "Wave serves images read-only: pushes and deletes are not supported").ToResult());
        return app;
    }

    private static Task<IResult> Dispatch(string path, HttpContext context, ContainerRequestCache requests, AugmentedImageResolver resolver, BlobLocator blobs, RegistryClient registry)
    {
        if (!RegistryPath.TryParse(path, out var route))
        {
            throw new OciErrorException(StatusCodes.Status404NotFound, OciErrorCodes.NameUnknown,
                $"'{path}' is not a Wave image path: Wave serves /v2/wt/<token>/<repository>/(manifests|blobs)/<reference>");
        }
        var head = HttpMethods.IsHead(context.Request.Method);
        return route.Kind switch
        {
            RegistryPathKind.Manifest => GetManifest(route, head, context, requests, resolver, registry, context.RequestServices.GetRequiredService<PullAccounting>()),
            RegistryPathKind.Blob => GetBlob(route, head, context, requests, blobs, registry),
            _ => ListTags(route, context, requests),
        };
    }

    public sealed record TagList(
        [property: System.Text.Json.Serialization.JsonPropertyName("name")] string Name,
        [property: System.Text.Json.Serialization.JsonPropertyName("tags")] IReadOnlyList<string> Tags);

    /// <summary>A token serves one tag (none when the image was requested by digest only); clients such as skopeo list tags before they inspect.</summary>
    private static async Task<IResult> ListTags(RegistryPath route, HttpContext context, ContainerRequestCache requests)
    {
        var request = await FindRequestAsync(route, requests, context.RequestAborted);
        var tag = ImageReference.Parse(request.SourceImage).Tag;
        return TypedResults.Json(new TagList($"wt/{route.Token}/{route.Name}", tag is null ? [] : [tag]));
    }

    private static async Task<ContainerRequest> FindRequestAsync(RegistryPath route, ContainerRequestCache requests, CancellationToken cancellationToken)
    {
        var request = await requests.FindAsync(route.Token, cancellationToken)
            ?? throw new OciErrorException(StatusCodes.Status404NotFound, OciErrorCodes.NameUnknown,
                $"container token '{route.Token}' is unknown or has expired: request a new one from the Wave API", new { token = route.Token });
        var source = ImageReference.Parse(request.SourceImage);
        if (route.Name != source.Repository)
        {
            throw new OciErrorException(StatusCodes.Status404NotFound, OciErrorCodes.NameUnknown,
                $"container token '{route.Token}' was issued for repository '{source.Repository}', not '{route.Name}'");
        }
        return request;
    }

    private static async Task<IResult> GetManifest(RegistryPath route, bool head, HttpContext context, ContainerRequestCache requests, AugmentedImageResolver resolver, RegistryClient registry, PullAccounting pulls)
    {
        var cancellationToken = context.RequestAborted;
        var request = await FindRequestAsync(route, requests, cancellationToken);
        var source = ImageReference.Parse(request.SourceImage);
        ServedContent content;
        if (route.Reference.StartsWith("sha256:", StringComparison.Ordinal) || route.Reference.Contains(':'))
        {
            if (!Digest.IsValid(route.Reference))
            {
                throw new OciErrorException(StatusCodes.Status400BadRequest, OciErrorCodes.DigestInvalid, $"'{route.Reference}' is not a valid sha256 digest");
            }
            // Ours (augmented manifests, rewritten index) first; any other digest is upstream content of the same
            // repository, e.g. an attestation manifest the rewritten index still lists.
            content = await resolver.FindByDigestAsync(request, route.Reference, cancellationToken)
                ?? await UpstreamManifestAsync(registry, source, route.Reference, cancellationToken);
        }
        else
        {
            if (route.Reference != (source.Tag ?? "latest"))
            {
                throw new OciErrorException(StatusCodes.Status404NotFound, OciErrorCodes.ManifestUnknown,
                    $"container token '{route.Token}' serves tag '{source.Tag}', not '{route.Reference}'");
            }
            content = await resolver.GetRootAsync(request, cancellationToken);
        }

        var isPull = !head && MediaTypes.IsImageManifest(content.MediaType);
        if (isPull)
        {
            await pulls.AdmitAsync(request, context.Connection.RemoteIpAddress?.ToString(), cancellationToken);
        }

        context.Response.Headers[DigestHeader] = content.Digest;
        context.Response.Headers.ETag = $"\"{content.Digest}\"";
        if (head)
        {
            context.Response.ContentType = content.MediaType;
            context.Response.ContentLength = content.Bytes.Length;
            return TypedResults.Empty;
        }
        if (isPull)
        {
            await pulls.RecordAsync(request, await resolver.ArchitectureOfAsync(request, content, cancellationToken), cancellationToken);
        }
        return TypedResults.Bytes(content.Bytes, content.MediaType);
    }

    private static async Task<ServedContent> UpstreamManifestAsync(RegistryClient registry, ImageReference source, string digest, CancellationToken cancellationToken)
    {
        var upstream = await registry.GetManifestAsync(source.Registry, source.Repository, digest, cancellationToken);
        return new ServedContent(upstream.MediaType, upstream.Content, upstream.Digest);
    }

    private static async Task<IResult> GetBlob(RegistryPath route, bool head, HttpContext context, ContainerRequestCache requests, BlobLocator blobs, RegistryClient registry)
    {
        var cancellationToken = context.RequestAborted;
        if (!Digest.IsValid(route.Reference))
        {
            throw new OciErrorException(StatusCodes.Status400BadRequest, OciErrorCodes.DigestInvalid, $"'{route.Reference}' is not a valid sha256 digest");
        }
        var request = await FindRequestAsync(route, requests, cancellationToken);
        switch (await blobs.LocateAsync(request, route.Reference, cancellationToken))
        {
            case BlobSource.Local local:
                context.Response.Headers[DigestHeader] = local.Digest;
                if (head)
                {
                    context.Response.ContentType = "application/octet-stream";
                    context.Response.ContentLength = local.Bytes.Length;
                    return TypedResults.Empty;
                }
                return TypedResults.Bytes(local.Bytes, "application/octet-stream");
            case BlobSource.Redirect redirect:
                context.Response.Headers[DigestHeader] = route.Reference;
                return TypedResults.Redirect(redirect.Location.ToString(), permanent: false, preserveMethod: true);
            default:
                var source = ImageReference.Parse(request.SourceImage);
                await StreamUpstreamBlobAsync(context, registry, source, route.Reference, head, cancellationToken);
                return TypedResults.Empty;
        }
    }

    /// <summary>
    /// Passes an upstream blob on: a redirect (to a CDN, say) goes to the client as it is; a body is streamed, never
    /// buffered whole, and hashed on the way: when the bytes do not match the digest the connection is aborted, so
    /// the client sees a failed download rather than a corrupt layer.
    /// </summary>
    private static async Task StreamUpstreamBlobAsync(HttpContext context, RegistryClient registry, ImageReference source, string digest, bool head, CancellationToken cancellationToken)
    {
        BlobResponse blob;
        try
        {
            blob = await registry.GetBlobAsync(source.Registry, source.Repository, digest, head, cancellationToken);
        }
        catch (RegistryException e) when (e.Kind == RegistryErrorKind.NotFound)
        {
            throw new OciErrorException(StatusCodes.Status404NotFound, OciErrorCodes.BlobUnknown, $"blob {digest} is not known to {source.Registry}/{source.Repository}: {e.Message}");
        }
        using var _ = blob;
        var response = context.Response;
        if (blob.RedirectTo is not null)
        {
            response.StatusCode = StatusCodes.Status307TemporaryRedirect;
            response.Headers.Location = blob.RedirectTo.ToString();
            response.Headers[DigestHeader] = digest;
            return;
        }
        var upstream = blob.Response!;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = upstream.Content.Headers.ContentType?.ToString() ?? "application/octet-stream";
        response.ContentLength = upstream.Content.Headers.ContentLength;
        response.Headers[DigestHeader] = digest;
        if (head)
        {
            return;
        }
        await using var body = await upstream.Content.ReadAsStreamAsync(cancellationToken);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[128 * 1024];
        int read;
        while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            await response.Body.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }
        var actual = "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
        if (actual != digest)
        {
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RegistryApi))
                .LogError("Upstream {Registry} sent blob {Digest} whose content hashes to {Actual}: aborting the response", source.Registry, digest, actual);
            context.Abort();
        }
    }

    /// <summary>The OCI error for a failure, or null for a bug (which then stays a 500 and is logged as such).</summary>
    private static OciErrorException? ToOciError(Exception e) => e switch
    {
        OciErrorException oci => oci,
        RegistryException { Kind: RegistryErrorKind.NotFound } r => new OciErrorException(StatusCodes.Status404NotFound, OciErrorCodes.ManifestUnknown, r.Message),
        RegistryException { Kind: RegistryErrorKind.Timeout } r => new OciErrorException(StatusCodes.Status504GatewayTimeout, OciErrorCodes.Unavailable, $"upstream registry {r.Registry} did not answer in time: {r.Message}"),
        RegistryException r => new OciErrorException(StatusCodes.Status502BadGateway, OciErrorCodes.Unavailable, $"upstream registry {r.Registry} failed: {r.Message}"),
        InvalidManifestException m => new OciErrorException(StatusCodes.Status502BadGateway, OciErrorCodes.Unknown, $"the upstream manifest cannot be augmented: {m.Message}"),
        StateUnavailableException s => new OciErrorException(StatusCodes.Status503ServiceUnavailable, OciErrorCodes.Unavailable, $"Wave's state store is unavailable, retry shortly: {s.Message}"),
        _ => null,
    };
}
