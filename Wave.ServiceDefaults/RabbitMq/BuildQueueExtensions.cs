using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

using RabbitMQ.Client;

using Wave.Core.Persistence;
using Wave.ServiceDefaults.RabbitMq;

namespace Microsoft.Extensions.Hosting;

/// <summary>Where build jobs wait: RabbitMQ when Aspire gave ConnectionStrings:rabbitmq, an in-process channel otherwise.</summary>
public static class BuildQueueExtensions
{
    /// <summary>The Aspire resource name of RabbitMQ: ConnectionStrings:rabbitmq (ConnectionStrings__rabbitmq).</summary>
    public const string RabbitMqConnectionName = "rabbitmq";

    /// <summary>Binds <see cref="BuildQueueOptions"/> from Wave:Build (Concurrency, MaxDeliveries, QueueName).</summary>
    private sealed class BuildQueueMarker;

    /// <remarks>Safe to call from each service of one host: the second call changes nothing.</remarks>
    public static TBuilder AddWaveBuildQueue<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        if (builder.Services.Any(d => d.ServiceType == typeof(BuildQueueMarker)))
        {
            return builder;
        }
        builder.Services.AddSingleton<BuildQueueMarker>();
        var options = new BuildQueueOptions();
        builder.Configuration.GetSection(BuildQueueOptions.Section).Bind(options);
        options.Validate();
        builder.Services.TryAddSingleton(options);
        var connectionString = builder.Configuration.GetConnectionString(RabbitMqConnectionName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            builder.Services.TryAddSingleton(services => new ChannelBuildQueue(options, services.GetService<ILogger<ChannelBuildQueue>>()));
            builder.Services.TryAddSingleton<IBuildQueue>(services => services.GetRequiredService<ChannelBuildQueue>());
            return builder;
        }
        var endpoint = RabbitMqBuildQueue.EndpointOf(connectionString);
        var exports = ServiceDefaultsExtensions.ExportsTelemetry(builder.Configuration);
        builder.AddRabbitMQClient(RabbitMqConnectionName,
            settings =>
            {
                // The connection is made when the queue first needs it, not at start-up: a service starts while the
                // broker is down. One attempt per use, no retries inside it: a publish then fails at once (503) and
                // the consumer tries again every second, instead of the integration's blocking 1+2+4+8+16 s.
                settings.DisableAutoActivation = true;
                settings.MaxConnectRetryCount = 0;
                settings.DisableTracing = !exports;
            },
            factory =>
            {
                factory.AutomaticRecoveryEnabled = true;
                factory.TopologyRecoveryEnabled = true;
                factory.NetworkRecoveryInterval = TimeSpan.FromSeconds(1);
                factory.RequestedHeartbeat = TimeSpan.FromSeconds(20);
                factory.RequestedConnectionTimeout = TimeSpan.FromSeconds(10);
                factory.ClientProvidedName = "wave-builds";
            });
        builder.RenameHealthCheck("RabbitMQ.Client", RabbitMqConnectionName, TimeSpan.FromSeconds(15));
        builder.Services.TryAddSingleton(services => new RabbitMqBuildQueue(
            // The integration's factory connects synchronously: off the caller's thread, and abandoned on cancellation.
            cancellationToken => Task.Run(services.GetRequiredService<IConnection>, cancellationToken).WaitAsync(cancellationToken),
            endpoint, options, services.GetService<ILogger<RabbitMqBuildQueue>>()));
        builder.Services.TryAddSingleton<IBuildQueue>(services => services.GetRequiredService<RabbitMqBuildQueue>());
        return builder;
    }
}
