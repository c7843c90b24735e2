using System.Net;
using System.Net.Sockets;

using Microsoft.Extensions.DependencyInjection;

namespace Wave.Core.Security;

/// <summary>
/// <see cref="NetworkTargetPolicy"/> at connection time: the <see cref="SocketsHttpHandler.ConnectCallback"/> of every
/// HttpClient Wave uses for a user's fetches. It resolves the host itself and dials only the addresses the policy
/// accepts, so what is checked is what is connected to. The request-time check resolves a client-named host once; a
/// name that then resolves to 10.0.0.5 or 169.254.169.254 when the proxy or a builder connects (DNS rebinding), and
/// hosts no request named (a token realm, a redirect's target, both chosen by the upstream), are stopped here with an
/// error naming the host and the setting. A host the operator configured is trusted by name, except for the ranges no
/// configuration allows (link-local, cloud metadata, unspecified, multicast).
/// </summary>
public sealed class OutboundConnectionGuard(NetworkTargetPolicy? policy)
{
    /// <summary>
    /// The guard of <paramref name="services"/>' policy. A container without one (a registry client set up on its own,
    /// outside a Wave service, which registers the policy in <c>AddWaveCore</c>) gets the ranges no configuration allows.
    /// </summary>
    public static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> For(IServiceProvider services)
        => new OutboundConnectionGuard(services.GetService<NetworkTargetPolicy>()).ConnectAsync;

    /// <summary>Opens the connection of <paramref name="context"/> to the first acceptable address of its host.</summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var endPoint = context.DnsEndPoint;
        var host = endPoint.Host.Trim('[', ']');
        var resolved = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
        var trusted = policy is not null && policy.IsTrusted(AuthorityOf(context));
        var verdicts = resolved
            .Select(a => (Address: a, Refusal: policy is null ? NetworkTargetPolicy.AlwaysRefusedReason(a) : policy.RefusalOf(a, trusted)))
            .ToArray();
        var acceptable = verdicts.Where(v => v.Refusal is null).Select(v => v.Address).ToArray();
        if (acceptable.Length == 0)
        {
            var reasons = verdicts.Length == 0 ? ["does not resolve to any address"] : verdicts.Select(v => v.Refusal!).Distinct();
            throw new OutboundAddressRefusedException($"Wave does not connect to {endPoint.Host}:{endPoint.Port}: it {string.Join("; it ", reasons)}");
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

    /// <summary>The host and port as a request's authority writes them: no port when it is the scheme's default.</summary>
    private static string AuthorityOf(SocketsHttpConnectionContext context)
    {
        var scheme = context.InitialRequestMessage.RequestUri?.Scheme ?? Uri.UriSchemeHttps;
        return new UriBuilder(scheme, context.DnsEndPoint.Host, context.DnsEndPoint.Port).Uri.Authority;
    }
}

/// <summary>
/// A connection <see cref="OutboundConnectionGuard"/> would not open. The handler reports it as the inner exception of
/// an <see cref="HttpRequestException"/>; it is not transient, so the resilience pipeline does not retry it.
/// </summary>
public sealed class OutboundAddressRefusedException(string message) : Exception(message)
{
    /// <summary>Whether <paramref name="exception"/> or one of its inner exceptions is a refusal.</summary>
    public static bool IsIn(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is OutboundAddressRefusedException)
            {
                return true;
            }
        }
        return false;
    }
}
