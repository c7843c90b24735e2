using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

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

    /// <summary>The base URI of a registry's API, e.g. <c>http://localhost:5000/</c> or <c>https://registry-1.docker.io/</c>.</summary>
    public Uri BaseUri(string registry) => throw new NotImplementedException();

    public Task PingAsync(string registry, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    public Task<ManifestHead> HeadManifestAsync(string registry, string repository, string reference, CancellationToken cancellationToken = default)
        => throw new NotImplementedException();

    /// <summary>GET with the full Accept list; verifies the digest of the bytes when the reference is a digest or the registry sent Docker-Content-Digest.</summary>
    public Task<ManifestResponse> GetManifestAsync(string registry, string repository, string reference, CancellationToken cancellationToken = default)
        => throw new NotImplementedException();

    /// <summary>A whole small blob (a config), at most <paramref name="maxBytes"/>, digest verified.</summary>
    public Task<byte[]> GetBlobBytesAsync(string registry, string repository, string digest, long maxBytes, CancellationToken cancellationToken = default)
        => throw new NotImplementedException();

    /// <summary>Starts a blob GET (or HEAD): a redirect to another host is returned, not followed; otherwise the response headers are read and the body is left to stream.</summary>
    public Task<BlobResponse> GetBlobAsync(string registry, string repository, string digest, bool headOnly, CancellationToken cancellationToken = default)
        => throw new NotImplementedException();

    /// <summary>A real login: true when the registry's auth flow accepts these credentials.</summary>
    public Task<bool> ValidateCredentialsAsync(string registry, RegistryCredentials credentials, CancellationToken cancellationToken = default)
        => throw new NotImplementedException();
}
