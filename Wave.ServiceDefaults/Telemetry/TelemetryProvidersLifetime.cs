using Microsoft.Extensions.Hosting;

using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Wave.ServiceDefaults.Telemetry;

/// <summary>
/// Builds the providers when the host starts (a provider only listens once it exists, and nothing else asks for
/// it) and flushes them when it stops, so that the last spans of a shutting-down service are not lost.
/// The container disposes them afterwards, as the singletons it created.
/// </summary>
internal sealed class TelemetryProvidersLifetime(TracerProvider tracing, MeterProvider metrics) : IHostedService
{
    private const int FlushTimeoutMilliseconds = 5_000;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        tracing.ForceFlush(FlushTimeoutMilliseconds);
        metrics.ForceFlush(FlushTimeoutMilliseconds);
        return Task.CompletedTask;
    }
}
