using System.Security.Cryptography.X509Certificates;

namespace Wave.Builder.Kubernetes;

/// <summary>Where the API server is, how to trust it and how to log in: the outcome of reading a kubeconfig or the in-cluster files.</summary>
public sealed record KubernetesConnection
{
    public required Uri Server { get; init; }

    /// <summary>The namespace the configuration names (context namespace, or the service account's); <c>default</c> otherwise.</summary>
    public string Namespace { get; init; } = "default";

    /// <summary>Roots the server's certificate must chain to; empty means the system trust store.</summary>
    public IReadOnlyList<X509Certificate2> TrustedRoots { get; init; } = [];

    public bool InsecureSkipTlsVerify { get; init; }

    /// <summary>The name the server's certificate must carry when it differs from the URL host (kubeconfig <c>tls-server-name</c>).</summary>
    public string? TlsServerName { get; init; }

    public KubernetesAuth Auth { get; init; } = KubernetesAuth.None;

    public override string ToString() => $"KubernetesConnection {{ Server = {Server}, Namespace = {Namespace}, Auth = {Auth} }}";
}
