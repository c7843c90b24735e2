using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Wave.ServiceDefaults.RabbitMq;

/// <summary>Healthy when RabbitMQ accepts a connection and a channel; the description names the endpoint only.</summary>
public sealed class RabbitMqHealthCheck(RabbitMqBuildQueue queue) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await queue.PingAsync(cancellationToken);
            return HealthCheckResult.Healthy($"RabbitMQ at {queue.Endpoint} opened a channel");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"RabbitMQ at {queue.Endpoint}: {e.GetType().Name}");
        }
    }
}
