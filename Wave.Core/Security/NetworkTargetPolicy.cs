using System.Net;
using System.Net.Sockets;

using Microsoft.Extensions.Options;

namespace Wave.Core.Security;

/// <summary><c>Wave:Security</c>: which hosts Wave may be sent to by a client-named address.</summary>
public sealed class NetworkTargetOptions
{
    /// <summary>CIDR ranges of loopback or private addresses that are allowed (e.g. <c>10.0.0.0/8</c> for an in-house registry).</summary>
    public List<string> AllowedNetworks { get; set; } = [];

    /// <summary>
    /// Whether loopback addresses (127.0.0.0/8, ::1) may be reached. Null: the topology decides, true for a service that
    /// keeps its state in process (the embedded developer run), false for a distributed deployment.
    /// </summary>
    public bool? AllowLoopback { get; set; }

    /// <summary>
    /// Host names the operator configured (registries with credentials, build and cache repositories, the default
    /// Platform endpoint): reached wherever they resolve, since the operator, not a client, chose them.
    /// </summary>
    public List<string> TrustedHosts { get; set; } = [];
}

/// <summary>
/// The one outbound-address policy for every fetch Wave makes on a user's behalf: the upstream registry of a container
/// or inspect request, validate-creds, the http(s) layers a freeze build downloads, Seqera Platform endpoints. It
/// guards against server-side request forgery: link-local and cloud metadata addresses are always refused; loopback
/// only when <see cref="NetworkTargetOptions.AllowLoopback"/> (by default in the embedded run) or an allowed network
/// says so; other private ranges only when allowed by configuration. Every address the name resolves to must pass.
/// Hosts the operator configured are trusted. The same rule holds again when Wave connects
/// (<see cref="OutboundConnectionGuard"/>, on every outbound HttpClient of Wave's), for every host a connection is
/// opened to: a name that resolves elsewhere after the request-time check (DNS rebinding), a token realm or a redirect
/// target the upstream chose, is judged by the address actually dialled.
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

    private static readonly IPNetwork[] Loopback = [IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128")];

    private readonly IPNetwork[] _allowed = [.. options.Value.AllowedNetworks.Select(IPNetwork.Parse)];

    private readonly bool _allowLoopback = options.Value.AllowLoopback ?? false;

    private readonly HashSet<string> _trusted = new(options.Value.TrustedHosts.Select(h => h.Trim().TrimEnd('/')).Where(h => h.Length > 0), StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether the policy lets loopback addresses through without an allowed network.</summary>
    public bool AllowsLoopback => _allowLoopback;

    /// <summary>Whether no configuration lets Wave reach <paramref name="address"/>: link-local, cloud metadata, unspecified, multicast.</summary>
    public static bool IsAlwaysRefused(IPAddress address)
    {
        var plain = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        return AlwaysRefused.Any(n => n.Contains(plain)) || plain.Equals(IPAddress.IPv6Any) || plain.Equals(IPAddress.Any);
    }

    /// <summary>Null when every address is acceptable; otherwise why the target is refused.</summary>
    public string? Check(IReadOnlyCollection<IPAddress> addresses)
    {
        if (addresses.Count == 0)
        {
            return "does not resolve to any address";
        }
        return addresses.Select(a => RefusalOf(a)).FirstOrDefault(r => r is not null);
    }

    /// <summary>Whether the operator configured <paramref name="authority"/> (host, or host:port when not the scheme's default).</summary>
    public bool IsTrusted(string authority) => _trusted.Contains(authority);

    /// <summary>Why no configuration lets Wave reach <paramref name="raw"/>, or null when some may (see <see cref="IsAlwaysRefused"/>).</summary>
    public static string? AlwaysRefusedReason(IPAddress raw)
    {
        var address = raw.IsIPv4MappedToIPv6 ? raw.MapToIPv4() : raw;
        return IsAlwaysRefused(address) ? $"resolves to {address}, a link-local or cloud metadata address" : null;
    }

    /// <summary>
    /// Null when Wave may reach <paramref name="raw"/>, otherwise why not. An address of a host the operator configured
    /// (<paramref name="trusted"/>) is refused only in the ranges no configuration allows.
    /// </summary>
    public string? RefusalOf(IPAddress raw, bool trusted = false)
    {
        if (AlwaysRefusedReason(raw) is { } never)
        {
            return never;
        }
        var address = raw.IsIPv4MappedToIPv6 ? raw.MapToIPv4() : raw;
        if (trusted || _allowed.Any(n => n.Contains(address)))
        {
            return null;
        }
        if (Loopback.Any(n => n.Contains(address)))
        {
            return _allowLoopback ? null : $"resolves to {address}, a loopback address this deployment does not reach (Wave:Security:AllowLoopback, Wave:Security:AllowedNetworks)";
        }
        if (Private.Any(n => n.Contains(address)))
        {
            return $"resolves to {address}, a private address not allowed by Wave:Security:AllowedNetworks";
        }
        return null;
    }

    /// <summary>
    /// Null when Wave may fetch from <paramref name="target"/>, otherwise why not. A target whose authority (host and
    /// port), or <paramref name="configuredName"/> (a registry's name, e.g. <c>docker.io</c> for its API host), is one
    /// the operator configured passes; any other is resolved (an IP literal is taken as is) and every address checked.
    /// </summary>
    public async Task<string?> CheckAsync(Uri target, CancellationToken cancellationToken, string? configuredName = null)
    {
        if (IsTrusted(target.Authority) || (configuredName is not null && IsTrusted(configuredName)))
        {
            return null;
        }
        var host = target.IdnHost.Trim('[', ']');
        if (IPAddress.TryParse(host, out var literal))
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
