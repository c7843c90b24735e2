using System.Net.Sockets;

using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Wave.AppHost.LocalServers;

/// <summary>Healthy once something accepts connections on the endpoint: for a server without a protocol-level check (epmd).</summary>
internal sealed class TcpHealthCheck(EndpointReference endpoint) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!endpoint.IsAllocated)
        {
            return HealthCheckResult.Unhealthy($"{endpoint.EndpointName} has no port yet");
        }
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(endpoint.Host, endpoint.Port, cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (SocketException e)
        {
            return HealthCheckResult.Unhealthy($"{endpoint.Host}:{endpoint.Port}: {e.SocketErrorCode}");
        }
    }
}
