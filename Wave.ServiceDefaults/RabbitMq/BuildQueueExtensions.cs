using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

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
        builder.Services.TryAddSingleton(services =>
            new RabbitMqBuildQueue(connectionString, options, services.GetService<ILogger<RabbitMqBuildQueue>>()));
        builder.Services.TryAddSingleton<IBuildQueue>(services => services.GetRequiredService<RabbitMqBuildQueue>());
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            RabbitMqConnectionName,
            services => new RabbitMqHealthCheck(services.GetRequiredService<RabbitMqBuildQueue>()),
            failureStatus: HealthStatus.Unhealthy,
            tags: ["ready"],
            timeout: TimeSpan.FromSeconds(15)));
        return builder;
    }
}
