using System.Buffers;
using System.Diagnostics;
using System.Security.Cryptography;

using Wave.Core.Digests;
using Wave.Core.Manifests;
using Wave.Core.Names;
using Wave.Core.Registry;
using Wave.Core.Requests;
using Wave.Core.State;
using Wave.Core.Telemetry;
using Wave.RegistryProxy.Builds;
using Wave.RegistryProxy.Content;
using Wave.RegistryProxy.Errors;
using Wave.RegistryProxy.Pulls;
using Wave.RegistryProxy.Routing;
using Wave.RegistryProxy.Telemetry;

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
            catch (Exception e) when (!context.HttpContext.Response.HasStarted && ToOciError(e) is { } error)
            {
                // Headers a streamed blob had already set (length, digest) must not go out with the error body.
                context.HttpContext.Response.Clear();
                context.HttpContext.Response.Headers[ApiVersionHeader] = "registry/2.0";
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

    private static async Task<IResult> Dispatch(string path, HttpContext context, ContainerRequestCache requests, AugmentedImageResolver resolver, BlobLocator blobs, UpstreamRegistries upstreams)
    {
        if (!RegistryPath.TryParse(path, out var route))
        {
            throw new OciErrorException(StatusCodes.Status404NotFound, OciErrorCodes.NameUnknown,
                $"'{path}' is not a Wave image path: Wave serves /v2/wt/<token>/<repository>/(manifests|blobs)/<reference>");
        }
        var head = HttpMethods.IsHead(context.Request.Method);
        using var activity = ProxyTelemetry.StartServing(route);
        try
        {
            return await (route.Kind switch
            {
                RegistryPathKind.Manifest => GetManifest(route, head, context, requests, resolver, upstreams, context.RequestServices.GetRequiredService<PullAccounting>()),
                RegistryPathKind.Blob => GetBlob(route, head, context, requests, blobs, upstreams),
                _ => ListTags(route, context, requests),
            });
        }
        catch (Exception e) when (activity is not null)
        {
            WaveTelemetry.Fail(activity, e);
            throw;
        }
    }

    public sealed record TagList(
        [property: System.Text.Json.Serialization.JsonPropertyName("name")] string Name,
        [property: System.Text.Json.Serialization.JsonPropertyName("tags")] IReadOnlyList<string> Tags);

    /// <summary>A token serves one tag (none when the image was requested by digest only); clients such as skopeo list tags before they inspect.</summary>
    private static async Task<IResult> ListTags(RegistryPath route, HttpContext context, ContainerRequestCache requests)
    {
        var (_, source) = await FindRequestAsync(route, requests, context);
        var tag = source.Tag;
        return TypedResults.Json(new TagList($"wt/{route.Token}/{route.Name}", tag is null ? [] : [tag]));
    }

    /// <summary>
    /// The token's request and its parsed source image, once the path's repository is the one the token was issued
    /// for. The request of an image still being built is returned when its build completed, with the digest it pushed.
    /// </summary>
    private static async Task<(ContainerRequest Request, ImageReference Source)> FindRequestAsync(RegistryPath route, ContainerRequestCache requests, HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        var request = await requests.FindAsync(route.Token, cancellationToken)
            ?? throw new OciErrorException(StatusCodes.Status404NotFound, OciErrorCodes.NameUnknown,
                $"container token '{route.Token}' is unknown or has expired: request a new one from the Wave API", new { token = route.Token });
        var source = ImageReference.Parse(request.SourceImage);
        if (route.Name != source.Repository)
        {
            throw new OciErrorException(StatusCodes.Status404NotFound, OciErrorCodes.NameUnknown,
                $"container token '{route.Token}' was issued for repository '{source.Repository}', not '{route.Name}'");
        }
        ProxyTelemetry.Describe(Activity.Current, request);
        if (request.SourceDigest is null)
        {
            request = await context.RequestServices.GetRequiredService<BuildWaiter>().ResolveAsync(request, source, cancellationToken);
        }
        await context.RequestServices.GetRequiredService<Wave.RegistryProxy.Scans.ScanGate>().CheckAsync(request, cancellationToken);
        return (request, source);
    }

    private static async Task<IResult> GetManifest(RegistryPath route, bool head, HttpContext context, ContainerRequestCache requests, AugmentedImageResolver resolver, UpstreamRegistries upstreams, PullAccounting pulls)
    {
        var cancellationToken = context.RequestAborted;
        var (request, source) = await FindRequestAsync(route, requests, context);
        try
        {
            return await GetManifest(route, head, context, request, source, resolver, upstreams, pulls, cancellationToken);
        }
        catch (InvalidManifestException e)
        {
            throw new OciErrorException(StatusCodes.Status502BadGateway, OciErrorCodes.Unknown,
                $"upstream registry {source.Registry} sent a manifest that cannot be augmented: {e.Message}");
        }
    }

    private static async Task<IResult> GetManifest(RegistryPath route, bool head, HttpContext context, ContainerRequest request, ImageReference source, AugmentedImageResolver resolver, UpstreamRegistries upstreams, PullAccounting pulls, CancellationToken cancellationToken)
    {
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
                ?? await UpstreamManifestAsync(await upstreams.ForAsync(request, cancellationToken), source, route.Reference, cancellationToken);
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
            var architecture = await resolver.ArchitectureOfAsync(request, content, cancellationToken);
            ProxyTelemetry.Pulled(architecture, content.MediaType);
            await pulls.RecordAsync(request, architecture, cancellationToken);
        }
        return TypedResults.Bytes(content.Bytes, content.MediaType);
    }

    private static async Task<ServedContent> UpstreamManifestAsync(RegistryClient registry, ImageReference source, string digest, CancellationToken cancellationToken)
    {
        var upstream = await registry.GetManifestAsync(source.Registry, source.Repository, digest, cancellationToken);
        return new ServedContent(upstream.MediaType, upstream.Content, upstream.Digest);
    }

    private static async Task<IResult> GetBlob(RegistryPath route, bool head, HttpContext context, ContainerRequestCache requests, BlobLocator blobs, UpstreamRegistries upstreams)
    {
        var cancellationToken = context.RequestAborted;
        if (!Digest.IsValid(route.Reference))
        {
            throw new OciErrorException(StatusCodes.Status400BadRequest, OciErrorCodes.DigestInvalid, $"'{route.Reference}' is not a valid sha256 digest");
        }
        var (request, source) = await FindRequestAsync(route, requests, context);
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
                var cache = context.RequestServices.GetRequiredService<BlobCache>();
                if (cache.TryOpen(source.Registry, source.Repository, route.Reference) is { } cached)
                {
                    ProxyTelemetry.BlobCacheHit(true);
                    return await ServeCachedBlobAsync(context, cached, route.Reference, head, cancellationToken);
                }
                ProxyTelemetry.BlobCacheHit(false);
                await StreamUpstreamBlobAsync(context, await upstreams.ForAsync(request, cancellationToken), source, route.Reference, head, cache, cancellationToken);
                return TypedResults.Empty;
        }
    }

    /// <summary>A blob from the proxy's disk cache: its length for a HEAD, a range through the range-aware stream result, else the whole file.</summary>
    private static async Task<IResult> ServeCachedBlobAsync(HttpContext context, BlobCache.Hit cached, string digest, bool head, CancellationToken cancellationToken)
    {
        context.Response.Headers[DigestHeader] = digest;
        if (context.Request.Headers.Range.Count > 0 && !head)
        {
            return TypedResults.Stream(cached.Content, "application/octet-stream", enableRangeProcessing: true);
        }
        await using (cached.Content)
        {
            context.Response.ContentType = "application/octet-stream";
            context.Response.ContentLength = cached.Length;
            if (!head)
            {
                await SendCachedBlobAsync(context, cached, cancellationToken);
            }
        }
        return TypedResults.Empty;
    }

    /// <summary>
    /// A whole cached blob, read straight into the response's buffers in large pieces (fewer sends than a stream
    /// copy). A file that ends early (changed on disk since it was verified) aborts the download.
    /// </summary>
    private static async Task SendCachedBlobAsync(HttpContext context, BlobCache.Hit cached, CancellationToken cancellationToken)
    {
        context.Response.Headers.AcceptRanges = "bytes";
        var writer = context.Response.BodyWriter;
        var handle = cached.Content.SafeFileHandle;
        for (long offset = 0; offset < cached.Length;)
        {
            var chunk = (int)Math.Min(CachedChunkBytes, cached.Length - offset);
            var memory = writer.GetMemory(chunk)[..chunk];
            var read = RandomAccess.Read(handle, memory.Span, offset); // from the page cache, as a rule: cheaper inline
            if (read == 0)
            {
                context.Abort();
                return;
            }
            writer.Advance(read);
            offset += read;
            await writer.FlushAsync(cancellationToken);
        }
    }

    private const int CachedChunkBytes = 128 * 1024;

    /// <summary>
    /// Passes an upstream blob on: a redirect (to a CDN, say) goes to the client as it is; a body is streamed, never
    /// buffered whole, and hashed on the way: when the bytes do not match the digest the connection is aborted, so
    /// the client sees a failed download rather than a corrupt layer.
    /// </summary>
    private static async Task StreamUpstreamBlobAsync(HttpContext context, RegistryClient registry, ImageReference source, string digest, bool head, BlobCache cache, CancellationToken cancellationToken)
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
        await using var cacheWriter = cache.StartWriting(source.Registry, source.Repository, digest, response.ContentLength);
        var actual = await CopyVerifiedAsync(context, source, upstream, cacheWriter, cancellationToken);
        if (actual != digest)
        {
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RegistryApi))
                .LogError("Upstream {Registry} sent blob {Digest} whose content hashes to {Actual}: refusing it", source.Registry, digest, actual);
            FailBlob(context, $"upstream registry {source.Registry} sent blob {digest} whose content hashes to {actual}");
        }
    }

    /// <summary>
    /// Copies the upstream body to the client and returns its sha256, or null when the upstream broke off (the client
    /// has its failure then). Each read is copied into the response's buffers and sent while a
    /// <see cref="BackgroundDigest"/> hashes it (and writes it to the blob cache) beside the copy. The last read, the
    /// one that completes the body, is held back until the hash of the whole is checked: a body that turns out short
    /// or wrong never reaches the client complete, and one that is wrong within its first read is still a clean 502.
    /// A body of unknown length goes out chunked, where an abort before the terminating chunk is equally a failed
    /// download.
    /// </summary>
    private static async Task<string?> CopyVerifiedAsync(HttpContext context, ImageReference source, HttpResponseMessage upstream, BlobCache.Writer? cacheWriter, CancellationToken cancellationToken)
    {
        var length = upstream.Content.Headers.ContentLength;
        await using var body = await upstream.Content.ReadAsStreamAsync(cancellationToken);
        await using var digest = new BackgroundDigest(cacheWriter);
        var writer = context.Response.BodyWriter;
        long total = 0;
        while (true)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferBytes);
            int read;
            try
            {
                read = await body.ReadAsync(buffer.AsMemory(0, CopyBufferBytes), cancellationToken);
            }
            catch (Exception e) when (e is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                FailBlob(context, $"upstream registry {source.Registry} broke the connection while sending the blob: {e.Message}");
                return null;
            }
            total += read;
            if (read == 0 || total == length)
            {
                try
                {
                    var actual = await digest.CompleteAsync(buffer.AsMemory(0, read));
                    if (actual == GetDigestHeader(context) && total > 0)
                    {
                        // Verified: the cached copy is in place before the client has its last byte, so a pull that
                        // completed can always be served again from the cache.
                        if (cacheWriter is not null)
                        {
                            await cacheWriter.CommitAsync();
                        }
                        await writer.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    }
                    return actual;
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
            // One piece of the response's buffer for the whole read (PipeWriter.Write would split it into pool blocks).
            buffer.AsSpan(0, read).CopyTo(writer.GetSpan(read));
            writer.Advance(read);
            await digest.AddAsync(buffer, read, cancellationToken); // from here the digest owns the buffer
            await writer.FlushAsync(cancellationToken);
        }
    }

    // One read from the upstream. A stalled client holds about one read in the response's buffer (its flush waits
    // for the socket) and none in the digest, which returns each buffer once hashed: 128 KiB per held-open pull.
    // Larger reads measured no faster on loopback and cost more per stalled client.
    private const int CopyBufferBytes = 128 * 1024;

    private static string? GetDigestHeader(HttpContext context) => context.Response.Headers[DigestHeader].ToString();

    /// <summary>A 502 while nothing was sent yet; once the body has started, a broken connection.</summary>
    private static void FailBlob(HttpContext context, string message)
    {
        if (!context.Response.HasStarted)
        {
            throw new OciErrorException(StatusCodes.Status502BadGateway, OciErrorCodes.Unavailable, message);
        }
        context.Abort();
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
