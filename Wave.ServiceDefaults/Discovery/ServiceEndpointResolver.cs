using Microsoft.Extensions.Configuration;

namespace Wave.ServiceDefaults.Discovery;

/// <summary>
/// Aspire's service discovery by configuration, as a pure function: a request to http://NAME/path goes to the
/// address configured as services:NAME:http:0 (the environment variable services__NAME__http__0).
/// "https+http://NAME" prefers the https endpoint and falls back to http; "http://_ENDPOINT.NAME" picks a
/// named endpoint. A host that names no configured service is a real host name and passes unchanged.
/// </summary>
public static class ServiceEndpointResolver
{
    public const string SectionName = "services";

    public static Uri Resolve(Uri requested, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(requested);
        if (!requested.IsAbsoluteUri)
        {
            return requested;
        }
        var schemes = requested.Scheme.Split('+');
        var (service, endpointNames) = ParseHost(requested.Host, schemes);

        foreach (var endpointName in endpointNames)
        {
            var configured = configuration[$"{SectionName}:{service}:{endpointName}:0"];
            if (!string.IsNullOrWhiteSpace(configured))
            {
                return Rewrite(requested, configured.Trim(), endpointName);
            }
        }
        if (schemes.Length > 1 || requested.Host.StartsWith('_'))
        {
            // Not a host name anyone can resolve: say which configuration is missing instead of a DNS error.
            throw new InvalidOperationException(
                $"no endpoint is configured for service '{service}': set {string.Join(" or ", endpointNames.Select(e => $"{SectionName}__{service}__{e}__0"))}");
        }
        return requested;
    }

    private static (string Service, IReadOnlyList<string> EndpointNames) ParseHost(string host, string[] schemes)
    {
        var dot = host.IndexOf('.', StringComparison.Ordinal);
        if (host.StartsWith('_') && dot > 1)
        {
            return (host[(dot + 1)..], [host[1..dot]]);
        }
        return (host, schemes);
    }

    private static Uri Rewrite(Uri requested, string configured, string endpointName)
    {
        // Aspire writes full URLs; accept a bare host:port too, taking the scheme from the endpoint's name.
        var withScheme = configured.Contains("://", StringComparison.Ordinal)
            ? configured
            : $"{(endpointName is "https" ? "https" : "http")}://{configured}";
        if (!Uri.TryCreate(withScheme, UriKind.Absolute, out var target))
        {
            throw new InvalidOperationException($"the endpoint configured for '{requested.Host}' is not a URL: '{configured}'");
        }
        var basePath = target.AbsolutePath.TrimEnd('/');
        return new UriBuilder(target.Scheme, target.Host, target.Port)
        {
            Path = basePath + requested.AbsolutePath,
            Query = requested.Query.TrimStart('?'),
        }.Uri;
    }
}
