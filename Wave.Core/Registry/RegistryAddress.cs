using System.Net;

namespace Wave.Core.Registry;

/// <summary>Where a registry named in an image reference is spoken to.</summary>
public static class RegistryAddress
{
    public const string DockerHubApiHost = "registry-1.docker.io";

    private static readonly string[] DockerHubAliases = ["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"];

    public static bool IsDockerHub(string registry) => DockerHubAliases.Contains(registry, StringComparer.OrdinalIgnoreCase);

    /// <summary>Both names denote the same registry (case-insensitive; the Docker Hub aliases are one registry).</summary>
    public static bool SameRegistry(string a, string b)
        => string.Equals(a, b, StringComparison.OrdinalIgnoreCase) || (IsDockerHub(a) && IsDockerHub(b));

    public static Uri BaseUri(string registry, RegistryOptions options)
    {
        if (IsDockerHub(registry))
        {
            return new Uri($"https://{DockerHubApiHost}/");
        }
        var scheme = IsLoopback(registry) || IsConfiguredInsecure(registry, options) ? "http" : "https";
        return new Uri($"{scheme}://{registry}/");
    }

    private static bool IsConfiguredInsecure(string registry, RegistryOptions options)
        => options.Registries.Any(r => r.Insecure && SameRegistry(r.Host, registry));

    private static bool IsLoopback(string registry)
    {
        var host = HostOf(registry);
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        return IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address);
    }

    /// <summary>The host without port: <c>[::1]:5000</c> → <c>::1</c>, <c>localhost:5000</c> → <c>localhost</c>.</summary>
    public static string HostOf(string registry)
    {
        if (registry.StartsWith('['))
        {
            var end = registry.IndexOf(']', StringComparison.Ordinal);
            return end > 0 ? registry[1..end] : registry;
        }
        var colon = registry.LastIndexOf(':');
        return colon >= 0 ? registry[..colon] : registry;
    }
}
