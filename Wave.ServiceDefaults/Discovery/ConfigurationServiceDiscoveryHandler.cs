using Microsoft.Extensions.Configuration;

namespace Wave.ServiceDefaults.Discovery;

/// <summary>Rewrites each request's address through <see cref="ServiceEndpointResolver"/> before it is sent.</summary>
public sealed class ConfigurationServiceDiscoveryHandler(IConfiguration configuration) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.RequestUri is { } uri)
        {
            request.RequestUri = ServiceEndpointResolver.Resolve(uri, configuration);
        }
        return base.SendAsync(request, cancellationToken);
    }
}
