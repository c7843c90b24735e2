using System.Net;
using System.Net.Http.Headers;

using Wave.Core.Digests;

namespace Wave.Core.Registry;

/// <summary>A blob now in the registry; <see cref="AlreadyPresent"/> when the upload was skipped because the registry had it.</summary>
public sealed record PushedBlob(string Digest, long Size, bool AlreadyPresent);

/// <summary>
/// Pushing (OCI distribution spec): HEAD to skip blobs the repository already has, POST to open an upload session,
/// then either one PUT with the whole blob or PATCHes of <c>chunkSize</c> bytes followed by a closing PUT, and a PUT
/// of the manifest. Bodies are streamed from files, and every attempt re-opens its bytes, so a retried request sends
/// them again. Tokens are asked for with the <c>pull,push</c> scope of the repository.
/// </summary>
public sealed partial class RegistryClient
{
    /// <summary>Blobs up to this size go up in one PUT; larger ones in PATCH chunks of this size.</summary>
    public const long DefaultUploadChunkSize = 32L * 1024 * 1024;

    private static string PushScope(string repository) => $"repository:{repository}:pull,push";

    /// <summary>True when the repository holds the blob (HEAD 200, or a redirect to where it is stored).</summary>
    public async Task<bool> BlobExistsAsync(string registry, string repository, string digest, CancellationToken cancellationToken = default)
    {
        var request = BlobRequest(registry, repository, digest, HttpMethod.Head) with { Scope = PushScope(repository) };
        var response = await SendAuthenticatedAsync(request, cancellationToken);
        if (response.IsSuccessStatusCode || IsRedirect(response))
        {
            response.Dispose();
            return true;
        }
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            response.Dispose();
            return false;
        }
        throw await ErrorFromAsync(registry, response, BlobName(repository, digest), cancellationToken);
    }

    /// <summary>Uploads a small blob held in memory (a config); skipped when present.</summary>
    public async Task<PushedBlob> PushBlobAsync(string registry, string repository, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        var digest = Digest.Sha256(content.Span);
        if (await BlobExistsAsync(registry, repository, digest, cancellationToken))
        {
            return new PushedBlob(digest, content.Length, AlreadyPresent: true);
        }
        await UploadAsync(registry, repository, digest, content.Length,
            (offset, length) => new ReadOnlyMemoryContent(content.Slice((int)offset, (int)length)), DefaultUploadChunkSize, cancellationToken);
        return new PushedBlob(digest, content.Length, AlreadyPresent: false);
    }

    /// <summary>
    /// Uploads a file as a blob, streaming it (never whole in memory); skipped when present. The digest is computed by
    /// reading the file when not given.
    /// </summary>
    public async Task<PushedBlob> PushBlobFileAsync(string registry, string repository, string path, string? digest = null,
        long chunkSize = DefaultUploadChunkSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        var size = new FileInfo(path).Length;
        if (digest is null)
        {
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
            digest = await Digest.Sha256Async(file, cancellationToken);
        }
        if (await BlobExistsAsync(registry, repository, digest, cancellationToken))
        {
            return new PushedBlob(digest, size, AlreadyPresent: true);
        }
        await UploadBlobFileAsync(registry, repository, path, digest, chunkSize, cancellationToken);
        return new PushedBlob(digest, size, AlreadyPresent: false);
    }

    /// <summary>
    /// Uploads a file as the blob <paramref name="digest"/> without asking first whether the repository has it (the
    /// caller just did, e.g. before downloading it); the registry checks the bytes against the digest.
    /// </summary>
    public async Task UploadBlobFileAsync(string registry, string repository, string path, string digest,
        long chunkSize = DefaultUploadChunkSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        var size = new FileInfo(path).Length;
        await UploadAsync(registry, repository, digest, size, (offset, length) => new FileSliceContent(path, offset, length), chunkSize, cancellationToken);
    }

    /// <summary>Stores a manifest under a tag (or its digest); returns its digest.</summary>
    public async Task<string> PushManifestAsync(string registry, string repository, string reference, byte[] content, string mediaType, CancellationToken cancellationToken = default)
    {
        var digest = Digest.Sha256(content);
        var name = ManifestName(repository, reference);
        var request = new RegistryRequest(registry, repository, HttpMethod.Put, ApiUri(registry, $"v2/{repository}/manifests/{reference}"),
            Scope: PushScope(repository), Content: () => Typed(new ByteArrayContent(content), mediaType));
        using var response = await SendAuthenticatedAsync(request, cancellationToken);
        if (response.StatusCode != HttpStatusCode.Created && !response.IsSuccessStatusCode)
        {
            throw await ErrorFromAsync(registry, response, $"manifest {name} (push)", cancellationToken);
        }
        CheckAnnouncedDigest(registry, response, digest, $"manifest {name}");
        return digest;
    }

    private async Task UploadAsync(string registry, string repository, string digest, long size, Func<long, long, HttpContent> slice, long chunkSize, CancellationToken cancellationToken)
    {
        var what = $"the upload of blob {BlobName(repository, digest)}";
        var scope = PushScope(repository);
        var start = new RegistryRequest(registry, repository, HttpMethod.Post, ApiUri(registry, $"v2/{repository}/blobs/uploads/"),
            Scope: scope, Content: () => new ByteArrayContent([]));
        Uri location;
        using (var started = await SendAuthenticatedAsync(start, cancellationToken))
        {
            if (started.StatusCode != HttpStatusCode.Accepted)
            {
                throw await ErrorFromAsync(registry, started, what, cancellationToken);
            }
            location = UploadLocation(registry, started);
        }

        if (size > chunkSize)
        {
            for (long offset = 0; offset < size; offset += chunkSize)
            {
                var (from, length) = (offset, Math.Min(chunkSize, size - offset));
                var patch = new RegistryRequest(registry, repository, HttpMethod.Patch, location, Scope: scope, Content: () =>
                {
                    var content = Typed(slice(from, length), "application/octet-stream");
                    content.Headers.TryAddWithoutValidation("Content-Range", $"{from}-{from + length - 1}");
                    return content;
                });
                using var patched = await SendUploadAsync(registry, patch, cancellationToken);
                if (patched.StatusCode != HttpStatusCode.Accepted)
                {
                    throw await ErrorFromAsync(registry, patched, $"{what} (bytes {from}-{from + length - 1})", cancellationToken);
                }
                location = UploadLocation(registry, patched);
            }
        }

        var closing = AddQuery(location, "digest=" + Uri.EscapeDataString(digest));
        var put = new RegistryRequest(registry, repository, HttpMethod.Put, closing, Scope: scope,
            Content: () => Typed(size > chunkSize ? new ByteArrayContent([]) : slice(0, size), "application/octet-stream"));
        using var finished = await SendUploadAsync(registry, put, cancellationToken);
        if (finished.StatusCode != HttpStatusCode.Created)
        {
            throw await ErrorFromAsync(registry, finished, what, cancellationToken);
        }
        CheckAnnouncedDigest(registry, finished, digest, $"blob {BlobName(repository, digest)}");
    }

    /// <summary>An upload URL on the registry's own host gets its auth; one elsewhere (a storage back end) gets none.</summary>
    private Task<HttpResponseMessage> SendUploadAsync(string registry, RegistryRequest request, CancellationToken cancellationToken) =>
        SameOrigin(request.Uri, BaseUri(registry))
            ? SendAuthenticatedAsync(request, cancellationToken)
            : SendThroughPipelineAsync(registry, () => request.ToMessage(authorization: null), cancellationToken);

    private Uri UploadLocation(string registry, HttpResponseMessage response)
    {
        var location = response.Headers.Location
            ?? throw new RegistryException(RegistryErrorKind.InvalidResponse, registry, $"registry {registry} opened a blob upload without a Location");
        return location.IsAbsoluteUri ? location : new Uri(response.RequestMessage?.RequestUri ?? BaseUri(registry), location);
    }

    private static Uri AddQuery(Uri uri, string parameter)
    {
        var builder = new UriBuilder(uri);
        var existing = builder.Query.TrimStart('?');
        builder.Query = existing.Length > 0 ? existing + "&" + parameter : parameter;
        return builder.Uri;
    }

    private static HttpContent Typed(HttpContent content, string mediaType)
    {
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return content;
    }

    private static void CheckAnnouncedDigest(string registry, HttpResponseMessage response, string digest, string what)
    {
        if (DigestHeader(response) is { } announced && !string.Equals(announced, digest, StringComparison.Ordinal))
        {
            throw new RegistryException(RegistryErrorKind.InvalidResponse, registry,
                $"registry {registry} stored {what} under digest {announced}, not {digest}");
        }
    }

    /// <summary>A byte range of a file as a request body: the file is opened when the body is sent, and closed after.</summary>
    private sealed class FileSliceContent(string path, long offset, long count) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            await SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
            file.Position = offset;
            var buffer = new byte[1 << 20];
            for (var left = count; left > 0;)
            {
                var read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(left, buffer.Length)), cancellationToken);
                if (read == 0)
                {
                    throw new IOException($"{path} ended before byte {offset + count} while it was being uploaded");
                }
                await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                left -= read;
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = count;
            return true;
        }
    }
}
