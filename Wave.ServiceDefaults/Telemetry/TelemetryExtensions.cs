using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

using Wave.Core.Telemetry;

namespace Wave.ServiceDefaults.Telemetry;

/// <summary>
/// Traces, metrics and logs over OTLP, built with the SDK's own builders because OpenTelemetry.Extensions.Hosting
/// does not restore here. Without OTEL_EXPORTER_OTLP_ENDPOINT the providers exist but listen to nothing: no span is
/// created and no measurement aggregated for an export that would never happen, so the hot paths stay free.
/// </summary>
public static class TelemetryExtensions
{
    public const string ServiceNameKey = "OTEL_SERVICE_NAME";

    /// <summary>
    /// Activity sources traced: the native ones of ASP.NET Core (incoming requests), HttpClient (outgoing requests),
    /// Npgsql (Postgres commands) and RabbitMQ.Client 7 (publish, and deliver linked to the publish), and Wave's own
    /// (Wave: serving, augmentation, upstream registry operations, builds; Wave.Redis: Redis commands).
    /// </summary>
    public static readonly IReadOnlyList<string> TracedSources =
    [
        "Microsoft.AspNetCore", "System.Net.Http", "Npgsql", "RabbitMQ.Client.Publisher", "RabbitMQ.Client.Subscriber",
        WaveTelemetry.Name, WaveTelemetry.Name + ".*",
    ];

    public static readonly IReadOnlyList<string> Meters =
        ["Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Net.Http", "Npgsql", WaveTelemetry.Name, WaveTelemetry.Name + ".*"];

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var serviceName = ServiceName(builder);
        var otlp = OtlpSettings.From(builder.Configuration);

        builder.Services.AddSingleton(_ =>
        {
            var tracing = Sdk.CreateTracerProviderBuilder()
                .SetResourceBuilder(Resource(serviceName));
            if (otlp is not null)
            {
                tracing.AddSource([.. TracedSources]);
                tracing.AddOtlpExporter(options => otlp.Apply(options, "v1/traces"));
            }
            return tracing.Build();
        });
        builder.Services.AddSingleton(_ =>
        {
            var metrics = Sdk.CreateMeterProviderBuilder()
                .SetResourceBuilder(Resource(serviceName));
            if (otlp is not null)
            {
                metrics.AddMeter([.. Meters]);
                metrics.AddOtlpExporter(options => otlp.Apply(options, "v1/metrics"));
            }
            return metrics.Build();
        });
        builder.Services.AddHostedService<TelemetryProvidersLifetime>();

        if (otlp is not null)
        {
            builder.Logging.AddOpenTelemetry(logging =>
            {
                logging.SetResourceBuilder(Resource(serviceName));
                logging.IncludeFormattedMessage = true;
                logging.IncludeScopes = true;
                logging.AddOtlpExporter(options => otlp.Apply(options, "v1/logs"));
            });
        }
        return builder;
    }

    public static string ServiceName(IHostApplicationBuilder builder)
    {
        var configured = builder.Configuration[ServiceNameKey];
        return string.IsNullOrWhiteSpace(configured) ? builder.Environment.ApplicationName : configured;
    }

    private static ResourceBuilder Resource(string serviceName) =>
        ResourceBuilder.CreateDefault().AddService(serviceName, serviceInstanceId: Environment.MachineName + ":" + Environment.ProcessId);
}
