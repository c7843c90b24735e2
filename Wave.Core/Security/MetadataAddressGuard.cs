using System.Net;
using System.Net.Sockets;

namespace Wave.Core.Security;

/// <summary>
/// The part of <see cref="NetworkTargetPolicy"/> that holds at connection time: a <see cref="SocketsHttpHandler.ConnectCallback"/>
/// that resolves the host itself and connects only to addresses outside the ranges no configuration allows (link-local,
/// cloud metadata, unspecified, multicast). The request-time check resolves a client-named host once; a name that
/// resolves to a public address then and to 169.254.169.254 when the proxy or a builder connects (DNS rebinding) is
/// stopped here. Loopback and private ranges stay a request-time decision, since operators allow them per deployment.
/// </summary>
public static class MetadataAddressGuard
{
    /// <summary>Opens the connection of <paramref name="context"/> to the first acceptable address of its host.</summary>
    public static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var endPoint = context.DnsEndPoint;
        var host = endPoint.Host.Trim('[', ']');
        var resolved = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
        var acceptable = resolved.Where(a => !NetworkTargetPolicy.IsAlwaysRefused(a)).ToArray();
        if (acceptable.Length == 0)
        {
            throw new HttpRequestException(HttpRequestError.ConnectionError,
                $"Wave does not connect to {endPoint.Host}:{endPoint.Port}: it resolves to {string.Join(", ", resolved.Select(a => a.ToString()))}, link-local or cloud metadata addresses");
        }
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(acceptable, endPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
