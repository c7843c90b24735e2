using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Wave.Builder.Kubernetes;

/// <summary>How the client proves who it is to the API server. ToString never shows a secret.</summary>
public abstract class KubernetesAuth
{
    public static KubernetesAuth None { get; } = new AnonymousAuth();

    /// <summary>The Authorization header for the next request, or null.</summary>
    public abstract ValueTask<AuthenticationHeaderValue?> AuthorizationAsync(CancellationToken cancellationToken);

    /// <summary>A client certificate (with its private key) offered during the TLS handshake, or null.</summary>
    public virtual X509Certificate2? ClientCertificate => null;

    private sealed class AnonymousAuth : KubernetesAuth
    {
        public override ValueTask<AuthenticationHeaderValue?> AuthorizationAsync(CancellationToken cancellationToken) => ValueTask.FromResult<AuthenticationHeaderValue?>(null);
        public override string ToString() => "anonymous";
    }
}

public sealed class BearerTokenAuth(string token) : KubernetesAuth
{
    public override ValueTask<AuthenticationHeaderValue?> AuthorizationAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult<AuthenticationHeaderValue?>(new AuthenticationHeaderValue("Bearer", token));

    public override string ToString() => "bearer token ***";
}

/// <summary>
/// A bearer token read from a file, as projected service-account tokens are: the kubelet rotates the file, so it is
/// read again when its modification time changes, and at least every minute in case a rotation kept the time.
/// </summary>
public sealed class TokenFileAuth(string path, TimeProvider? timeProvider = null) : KubernetesAuth
{
    private static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(1);
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private (string Token, DateTime WrittenAt, DateTimeOffset ReadAt)? _cached;

    public string Path { get; } = path;

    public override async ValueTask<AuthenticationHeaderValue?> AuthorizationAsync(CancellationToken cancellationToken)
    {
        var writtenAt = File.GetLastWriteTimeUtc(Path);
        var cached = _cached;
        if (cached is { } c && c.WrittenAt == writtenAt && _time.GetUtcNow() - c.ReadAt < MaxAge)
        {
            return new AuthenticationHeaderValue("Bearer", c.Token);
        }
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var token = (await File.ReadAllTextAsync(Path, cancellationToken)).Trim();
            if (token.Length == 0)
            {
                throw new InvalidOperationException($"The Kubernetes token file {Path} is empty.");
            }
            _cached = (token, writtenAt, _time.GetUtcNow());
            return new AuthenticationHeaderValue("Bearer", token);
        }
        finally
        {
            _gate.Release();
        }
    }

    public override string ToString() => $"bearer token from {Path}";
}

public sealed class BasicAuth(string username, string password) : KubernetesAuth
{
    public string Username { get; } = username;

    public override ValueTask<AuthenticationHeaderValue?> AuthorizationAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult<AuthenticationHeaderValue?>(new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{password}"))));

    public override string ToString() => $"basic {Username}:***";
}

/// <summary>A TLS client certificate, optionally together with a header-based login (kubeconfig allows both).</summary>
public sealed class ClientCertificateAuth(X509Certificate2 certificate, KubernetesAuth? header = null) : KubernetesAuth
{
    public override X509Certificate2? ClientCertificate { get; } = certificate;

    public override ValueTask<AuthenticationHeaderValue?> AuthorizationAsync(CancellationToken cancellationToken) =>
        header?.AuthorizationAsync(cancellationToken) ?? ValueTask.FromResult<AuthenticationHeaderValue?>(null);

    public override string ToString() => header is null ? $"client certificate {ClientCertificate!.Subject}" : $"client certificate {ClientCertificate!.Subject} and {header}";
}
