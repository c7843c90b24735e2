using System.Net;
using System.Net.Sockets;

using Microsoft.Extensions.Options;

namespace Wave.Core.Security;

/// <summary><c>Wave:Security</c>: which private networks Wave may be sent to by a client-named host.</summary>
public sealed class NetworkTargetOptions
{
    /// <summary>CIDR ranges of private addresses that are allowed (e.g. <c>127.0.0.0/8</c> for a registry on the same machine).</summary>
    public List<string> AllowedNetworks { get; set; } = [];
}

/// <summary>
/// Guards the endpoints that make Wave contact a host a client names (validate-creds) against server-side request
/// forgery: link-local and cloud metadata addresses are always refused; loopback and private ranges only when
/// allowed by configuration. Every address the name resolves to must pass. (A name that resolves differently between
/// this check and the connection is not covered; the check is a first line, not a network boundary.)
/// </summary>
public sealed class NetworkTargetPolicy(IOptions<NetworkTargetOptions> options)
{
    private static readonly IPNetwork[] AlwaysRefused =
    [
        IPNetwork.Parse("169.254.0.0/16"),   // link-local, incl. 169.254.169.254 (AWS, GCP, Azure metadata)
        IPNetwork.Parse("fe80::/10"),        // IPv6 link-local
        IPNetwork.Parse("fd00:ec2::254/128"),// AWS metadata over IPv6
        IPNetwork.Parse("100.100.100.200/32"), // Alibaba Cloud metadata
        IPNetwork.Parse("0.0.0.0/8"),
        IPNetwork.Parse("224.0.0.0/4"),      // multicast
        IPNetwork.Parse("ff00::/8"),
    ];

    private static readonly IPNetwork[] Private =
    [
        IPNetwork.Parse("127.0.0.0/8"),
        IPNetwork.Parse("::1/128"),
        IPNetwork.Parse("10.0.0.0/8"),
        IPNetwork.Parse("172.16.0.0/12"),
        IPNetwork.Parse("192.168.0.0/16"),
        IPNetwork.Parse("100.64.0.0/10"),
        IPNetwork.Parse("fc00::/7"),
    ];

    private readonly IPNetwork[] _allowed = [.. options.Value.AllowedNetworks.Select(IPNetwork.Parse)];

    /// <summary>Null when every address is acceptable; otherwise why the target is refused.</summary>
    public string? Check(IReadOnlyCollection<IPAddress> addresses)
    {
        if (addresses.Count == 0)
        {
            return "does not resolve to any address";
        }
        foreach (var raw in addresses)
        {
            var address = raw.IsIPv4MappedToIPv6 ? raw.MapToIPv4() : raw;
            if (AlwaysRefused.Any(n => n.Contains(address)) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Any))
            {
                return $"resolves to {address}, a link-local or cloud metadata address";
            }
            if (Private.Any(n => n.Contains(address)) && !_allowed.Any(n => n.Contains(address)))
            {
                return $"resolves to {address}, a private address not allowed by Wave:Security:AllowedNetworks";
            }
        }
        return null;
    }

    /// <summary>Resolves a host (an IP literal is taken as is) and checks it.</summary>
    public async Task<string?> CheckHostAsync(string host, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal))
        {
            return Check([literal]);
        }
        try
        {
            return Check(await Dns.GetHostAddressesAsync(host, cancellationToken));
        }
        catch (SocketException e)
        {
            return $"cannot be resolved: {e.Message}";
        }
    }
}
