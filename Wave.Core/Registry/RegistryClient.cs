using Wave.Core.Names;

namespace Wave.Core.Registry;

public sealed record ManifestResponse(byte[] Content, string MediaType, string Digest);

public sealed record ManifestHead(string MediaType, string Digest, long Size);

/// <summary>
/// A blob answer from a registry: either a redirect the client may follow itself (<see cref="RedirectTo"/>), or the
/// upstream response whose body is to be streamed (<see cref="Response"/>; the caller disposes it).
/// </summary>
public sealed class BlobResponse : IDisposable
{
    public Uri? RedirectTo { get; init; }
    public HttpResponseMessage? Response { get; init; }
    public void Dispose() => Response?.Dispose();
}

public enum RegistryErrorKind
{
    /// <summary>The repository, manifest or blob does not exist (404, NAME_UNKNOWN, MANIFEST_UNKNOWN, BLOB_UNKNOWN).</summary>
    NotFound,
    /// <summary>The registry refused the credentials, or anonymous access (401/403).</summary>
    Unauthorized,
    /// <summary>No connection could be made (DNS, refused, TLS).</summary>
    Unreachable,
    /// <summary>The registry did not answer in time.</summary>
    Timeout,
    /// <summary>The registry answered something that is not valid (bad JSON, digest mismatch, oversized).</summary>
    InvalidResponse,
    /// <summary>Any other failure status (5xx after retries, 429 after retries).</summary>
    Failed,
}

/// <summary>A registry failure. The message names the registry host and never carries credentials.</summary>
public sealed class RegistryException(RegistryErrorKind kind, string registry, string message, int? statusCode = null, Exception? inner = null)
    : Exception(message, inner)
{
    public RegistryErrorKind Kind { get; } = kind;
    public string Registry { get; } = registry;
    public int? StatusCode { get; } = statusCode;
}
