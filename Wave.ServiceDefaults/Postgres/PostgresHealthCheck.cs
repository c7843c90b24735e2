using Microsoft.Extensions.Diagnostics.HealthChecks;

using Npgsql;

namespace Wave.ServiceDefaults.Postgres;

/// <summary>Healthy when Postgres answers SELECT 1; the description names host and database, never the password.</summary>
public sealed class PostgresHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var builder = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        var where = $"{builder.Host}:{builder.Port}/{builder.Database}";
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy($"Postgres at {where} answered");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"Postgres at {where}: {e.GetType().Name}: {e.Message}");
        }
    }
}
