using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

using Wave.Core.Digests;

namespace Wave.Core.Registry;

/// <summary>
/// Speaks the OCI distribution API to one or more registries: /v2/ probe, anonymous, Basic and Bearer-token auth
/// (tokens cached per realm/service/scope/identity), manifests and blobs, redirects without leaking Authorization to
/// another host, retries on 429/5xx with back-off. Registries on localhost / 127.0.0.0/8, and configured insecure
/// ones, are spoken to over plain HTTP; all others over HTTPS. docker.io is served by registry-1.docker.io.
/// </summary>
public sealed partial class RegistryClient
{
    private readonly HttpClient _http;
    private readonly IRegistryCredentialsProvider _credentials;
    private readonly RegistryOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RegistryClient> _logger;

    /// <param name="http">Must not follow redirects itself (the client decides per host whether Authorization goes along).</param>
    public RegistryClient(HttpClient http, IRegistryCredentialsProvider credentials, IOptions<RegistryOptions> options, TimeProvider time, ILogger<RegistryClient> logger)
    {
        _http = http;
        _credentials = credentials;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>A client sharing this one's connections, token cache and known challenges, with other credentials.</summary>
    private RegistryClient(RegistryClient shared, IRegistryCredentialsProvider credentials)
    {
        _http = shared._http;
        _credentials = credentials;
        _options = shared._options;
        _time = shared._time;
        _logger = shared._logger;
        _knownChallenges = shared._knownChallenges;
        _tokens = shared._tokens;
    }

    /// <summary>
    /// This client with <paramref name="credentials"/> instead of the configured ones (a user's own registry logins):
    /// cheap, shares connections and caches; cached registry tokens are keyed by a hash of the credentials, so they are
    /// never reused for other credentials.
    /// </summary>
    public RegistryClient WithCredentials(IRegistryCredentialsProvider credentials) => new(this, credentials);

    private const long MaxManifestBytes = 4 * 1024 * 1024;

    /// <summary>The base URI of a registry's API, e.g. <c>http://localhost:5000/</c> or <c>https://registry-1.docker.io/</c>.</summary>
    public Uri BaseUri(string registry) => RegistryAddress.BaseUri(registry, _options);

    public async Task PingAsync(string registry, CancellationToken cancellationToken = default)
    {
        using var response = await SendFollowingRedirectsAsync(new RegistryRequest(registry, null, HttpMethod.Get, ApiUri(registry, "v2/")), cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorFromAsync(registry, response, "the /v2/ endpoint", cancellationToken);
        }
    }

    public async Task<ManifestHead> HeadManifestAsync(string registry, string repository, string reference, CancellationToken cancellationToken = default)
    {
        var request = ManifestRequest(registry, repository, reference, HttpMethod.Head);
        using (var response = await SendFollowingRedirectsAsync(request, cancellationToken))
        {
            if (!response.IsSuccessStatusCode)
            {
                throw await ErrorFromAsync(registry, response, ManifestName(repository, reference), cancellationToken);
            }
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            var digest = DigestHeader(response) ?? (IsDigest(reference) ? reference : null);
            if (Manifests.MediaTypes.IsManifest(mediaType) && digest is not null && response.Content.Headers.ContentLength is { } size)
            {
                return new ManifestHead(mediaType!, digest, size);
            }
        }
        // Some registries leave out the digest or an exact media type on HEAD: the document itself tells.
        var manifest = await GetManifestAsync(registry, repository, reference, cancellationToken);
        return new ManifestHead(manifest.MediaType, manifest.Digest, manifest.Content.LongLength);
    }

    /// <summary>GET with the full Accept list; verifies the digest of the bytes when the reference is a digest or the registry sent Docker-Content-Digest.</summary>
    public async Task<ManifestResponse> GetManifestAsync(string registry, string repository, string reference, CancellationToken cancellationToken = default)
    {
        var name = ManifestName(repository, reference);
        using var response = await SendFollowingRedirectsAsync(ManifestRequest(registry, repository, reference, HttpMethod.Get), cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorFromAsync(registry, response, name, cancellationToken);
        }
        var content = await ReadBodyAsync(registry, response, MaxManifestBytes, cancellationToken)
            ?? throw new RegistryException(RegistryErrorKind.InvalidResponse, registry, $"registry {registry}: manifest {name} is larger than {MaxManifestBytes / (1024 * 1024)} MiB");

        string digest;
        if (IsDigest(reference))
        {
            VerifyDigest(registry, name, reference, content);
            digest = reference;
        }
        else if (DigestHeader(response) is { } announced)
        {
            VerifyDigest(registry, name, announced, content);
            digest = announced;
        }
        else
        {
            digest = Digest.Sha256(content);
        }
        var mediaType = ManifestMediaType(registry, name, response.Content.Headers.ContentType?.MediaType, content);
        return new ManifestResponse(content, mediaType, digest);
    }

    /// <summary>A whole small blob (a config), at most <paramref name="maxBytes"/>, digest verified.</summary>
    public async Task<byte[]> GetBlobBytesAsync(string registry, string repository, string digest, long maxBytes, CancellationToken cancellationToken = default)
    {
        var name = BlobName(repository, digest);
        using var response = await SendFollowingRedirectsAsync(BlobRequest(registry, repository, digest, HttpMethod.Get), cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorFromAsync(registry, response, name, cancellationToken);
        }
        var content = await ReadBodyAsync(registry, response, maxBytes, cancellationToken)
            ?? throw new RegistryException(RegistryErrorKind.InvalidResponse, registry, $"registry {registry}: blob {name} is larger than {maxBytes} bytes");
        VerifyDigest(registry, name, digest, content);
        return content;
    }

    /// <summary>Starts a blob GET (or HEAD): a redirect to another host is returned, not followed; otherwise the response headers are read and the body is left to stream.</summary>
    public async Task<BlobResponse> GetBlobAsync(string registry, string repository, string digest, bool headOnly, CancellationToken cancellationToken = default)
    {
        var request = BlobRequest(registry, repository, digest, headOnly ? HttpMethod.Head : HttpMethod.Get);
        var response = await SendWithSameHostRedirectsAsync(request, cancellationToken);
        if (IsRedirect(response))
        {
            using (response)
            {
                return new BlobResponse { RedirectTo = RedirectTarget(registry, response) };
            }
        }
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorFromAsync(registry, response, BlobName(repository, digest), cancellationToken);
        }
        return new BlobResponse { Response = response };
    }

    /// <summary>
    /// A blob GET whose redirects are followed (without Authorization on other hosts): the response headers are read,
    /// the body is left to stream, and the caller disposes the response. The caller verifies the digest of what it reads.
    /// </summary>
    public async Task<HttpResponseMessage> GetBlobFollowingRedirectsAsync(string registry, string repository, string digest, CancellationToken cancellationToken = default)
    {
        var response = await SendFollowingRedirectsAsync(BlobRequest(registry, repository, digest, HttpMethod.Get), cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorFromAsync(registry, response, BlobName(repository, digest), cancellationToken);
        }
        return response;
    }

    /// <summary>A real login: true when the registry's auth flow accepts these credentials.</summary>
    public async Task<bool> ValidateCredentialsAsync(string registry, RegistryCredentials credentials, CancellationToken cancellationToken = default)
    {
        var ping = new RegistryRequest(registry, null, HttpMethod.Get, ApiUri(registry, "v2/"));
        AuthenticationHeaderValue authorization;
        using (var anonymous = await SendThroughPipelineAsync(registry, () => ping.ToMessage(null), cancellationToken))
        {
            if (anonymous.IsSuccessStatusCode)
            {
                return true; // the registry asks for no login, so any credentials will do
            }
            if (anonymous.StatusCode != HttpStatusCode.Unauthorized)
            {
                throw await ErrorFromAsync(registry, anonymous, "the /v2/ endpoint", cancellationToken);
            }
            var challenge = ChooseChallenge(anonymous)
                ?? throw new RegistryException(RegistryErrorKind.InvalidResponse, registry, $"registry {registry} answered 401 without a challenge this client understands", 401);
            if (challenge.IsBasic)
            {
                authorization = BasicAuthorization(credentials);
            }
            else
            {
                var realm = challenge["realm"]
                    ?? throw new RegistryException(RegistryErrorKind.InvalidResponse, registry, $"registry {registry} sent a Bearer challenge without a realm");
                try
                {
                    // No scope: the token service authenticates the user without granting anything.
                    var (token, _) = await FetchBearerTokenAsync(registry, realm, challenge["service"], scope: null, credentials, cancellationToken);
                    authorization = new AuthenticationHeaderValue("Bearer", token);
                }
                catch (RegistryException e) when (e.Kind == RegistryErrorKind.Unauthorized)
                {
                    return false;
                }
            }
        }
        using var login = await SendThroughPipelineAsync(registry, () => ping.ToMessage(authorization), cancellationToken);
        if (login.IsSuccessStatusCode)
        {
            return true;
        }
        if (login.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            return false;
        }
        throw await ErrorFromAsync(registry, login, "the /v2/ endpoint", cancellationToken);
    }

    private RegistryRequest ManifestRequest(string registry, string repository, string reference, HttpMethod method)
        => new(registry, repository, method, ApiUri(registry, $"v2/{repository}/manifests/{reference}"), Manifests.MediaTypes.ManifestAccept);

    private RegistryRequest BlobRequest(string registry, string repository, string digest, HttpMethod method)
        => new(registry, repository, method, ApiUri(registry, $"v2/{repository}/blobs/{digest}"));

    private static string ManifestName(string repository, string reference)
        => IsDigest(reference) ? $"{repository}@{reference}" : $"{repository}:{reference}";

    private static string BlobName(string repository, string digest) => $"{repository}@{digest}";

    private static string? DigestHeader(HttpResponseMessage response)
        => response.Headers.TryGetValues("Docker-Content-Digest", out var values) ? values.FirstOrDefault(v => v.Length > 0) : null;

    private static void VerifyDigest(string registry, string name, string digest, byte[] content)
    {
        if (!Digest.Matches(digest, content))
        {
            throw new RegistryException(RegistryErrorKind.InvalidResponse, registry,
                $"registry {registry}: the content of {name} does not match digest {digest} (it hashes to {Digest.Sha256(content)})");
        }
    }

    /// <summary>The Content-Type when it names a manifest type; otherwise what the document says it is.</summary>
    private static string ManifestMediaType(string registry, string name, string? contentType, byte[] content)
    {
        if (Manifests.MediaTypes.IsManifest(contentType))
        {
            return contentType!;
        }
        try
        {
            using var document = JsonDocument.Parse(content);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (root.TryGetProperty("mediaType", out var declared) && declared.ValueKind == JsonValueKind.String
                    && Manifests.MediaTypes.IsManifest(declared.GetString()))
                {
                    return declared.GetString()!;
                }
                // OCI lets "mediaType" be absent; the shape still tells an index from an image manifest.
                if (root.TryGetProperty("manifests", out var manifests) && manifests.ValueKind == JsonValueKind.Array)
                {
                    return Manifests.MediaTypes.OciIndex;
                }
                if (root.TryGetProperty("config", out var config) && config.ValueKind == JsonValueKind.Object)
                {
                    return Manifests.MediaTypes.OciManifest;
                }
            }
        }
        catch (JsonException e)
        {
            throw new RegistryException(RegistryErrorKind.InvalidResponse, registry, $"registry {registry}: manifest {name} is not valid JSON", inner: e);
        }
        throw new RegistryException(RegistryErrorKind.InvalidResponse, registry,
            $"registry {registry}: manifest {name} has unsupported media type {contentType ?? "(none)"}");
    }

    // Tags cannot contain ':', digests always do.
    private static bool IsDigest(string reference) => reference.Contains(':', StringComparison.Ordinal);
}
