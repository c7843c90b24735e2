using System.Security.Cryptography.X509Certificates;

namespace Wave.Builder.Kubernetes;

/// <summary>
/// The configuration a pod gets from Kubernetes: the API server from <c>KUBERNETES_SERVICE_HOST</c>/<c>_PORT</c>,
/// and the service account's token, CA bundle and namespace as files.
/// </summary>
public static class InClusterConfig
{
    public const string DefaultServiceAccountPath = "/var/run/secrets/kubernetes.io/serviceaccount";

    public static bool IsAvailable(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        return !string.IsNullOrEmpty(environment("KUBERNETES_SERVICE_HOST")) && !string.IsNullOrEmpty(environment("KUBERNETES_SERVICE_PORT"));
    }

    /// <param name="serviceAccountPath">The folder holding <c>token</c>, <c>ca.crt</c> and <c>namespace</c>.</param>
    /// <param name="environment">Reads environment variables (tests pass their own).</param>
    public static KubernetesConnection Load(string serviceAccountPath = DefaultServiceAccountPath, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var host = environment("KUBERNETES_SERVICE_HOST");
        var port = environment("KUBERNETES_SERVICE_PORT");
        if (string.IsNullOrEmpty(host) || string.IsNullOrEmpty(port))
        {
            throw new InvalidOperationException("Not running inside Kubernetes: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set.");
        }
        var tokenPath = Path.Combine(serviceAccountPath, "token");
        if (!File.Exists(tokenPath))
        {
            throw new InvalidOperationException($"The service account token {tokenPath} does not exist.");
        }
        // An IPv6 service address needs brackets in a URL.
        var server = new Uri($"https://{(host.Contains(':') && !host.StartsWith('[') ? $"[{host}]" : host)}:{port}");
        var caPath = Path.Combine(serviceAccountPath, "ca.crt");
        var namespacePath = Path.Combine(serviceAccountPath, "namespace");
        return new KubernetesConnection
        {
            Server = server,
            Namespace = File.Exists(namespacePath) ? File.ReadAllText(namespacePath).Trim() : "default",
            TrustedRoots = File.Exists(caPath) ? Pem.Certificates(File.ReadAllText(caPath)) : [],
            Auth = new TokenFileAuth(tokenPath),
        };
    }
}

internal static class Pem
{
    public static IReadOnlyList<X509Certificate2> Certificates(string pem)
    {
        var collection = new X509Certificate2Collection();
        collection.ImportFromPem(pem);
        if (collection.Count == 0)
        {
            throw new InvalidOperationException("The certificate authority data holds no PEM certificate.");
        }
        return [.. collection];
    }
}
