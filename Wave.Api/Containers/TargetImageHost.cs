using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Wave.Api.Containers;

/// <summary>
/// The registry host clients pull targetImage from: <c>Wave:PublicHost</c> when configured; else the registry proxy
/// found by Aspire's service discovery convention (<c>services:registry-proxy:http:0</c>); else this process's own
/// listening address (embedded mode, where the proxy shares the host), so that a local pull works as returned.
/// The request's Host header is never used: a client must not be able to choose the name others pull.
/// </summary>
public sealed class TargetImageHost(IOptions<ContainerRequestOptions> options, IConfiguration configuration, IServer server)
{
    private string? _resolved;

    public string Value => _resolved ??= Resolve();

    private string Resolve()
    {
        if (!string.IsNullOrWhiteSpace(options.Value.PublicHost))
        {
            return options.Value.PublicHost.Trim().TrimEnd('/');
        }
        var proxy = configuration["services:registry-proxy:http:0"] ?? configuration["services:registry-proxy:https:0"];
        if (proxy is not null && Uri.TryCreate(proxy, UriKind.Absolute, out var proxyUri))
        {
            return proxyUri.Authority;
        }
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses
            .FirstOrDefault(a => a.StartsWith("http://", StringComparison.Ordinal))
            ?? server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("no listening address is known yet: set Wave:PublicHost");
        var uri = new Uri(address.Replace("://+", "://localhost").Replace("://*", "://localhost"));
        var host = uri.Host is "0.0.0.0" or "[::]" or "::" ? "localhost" : uri.Host;
        return uri.IsDefaultPort ? host : $"{host}:{uri.Port}";
    }
}
