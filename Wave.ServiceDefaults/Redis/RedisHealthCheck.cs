using System.Globalization;

using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Wave.ServiceDefaults.Redis;

/// <summary>Healthy when Redis answers a PING; the description names the endpoint, never the credentials.</summary>
public sealed class RedisHealthCheck(RedisConnection connection) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var roundTrip = await connection.PingAsync(cancellationToken);
            return HealthCheckResult.Healthy(string.Create(CultureInfo.InvariantCulture,
                $"Redis at {connection.Options.Endpoint} answered PING in {roundTrip.TotalMilliseconds:0.0} ms"));
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, e.Message);
        }
    }
}
