using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

using Wave.Core.State;
using Wave.ServiceDefaults.Redis;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Where the services keep their shared state, and how they tell each other it changed (<see cref="IStateNotifications"/>):
/// Redis when Aspire gave a connection string, process memory otherwise.
/// </summary>
public static class StateExtensions
{
    /// <summary>The Aspire resource name of Redis: ConnectionStrings:redis (ConnectionStrings__redis).</summary>
    public const string RedisConnectionName = "redis";

    /// <summary>Configuration key of the prefix of every Wave key in Redis.</summary>
    public const string KeyPrefixKey = "Wave:State:KeyPrefix";

    public static TBuilder AddWaveState<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        if (string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(RedisConnectionName)))
        {
            builder.Services.TryAddSingleton(TimeProvider.System);
            builder.Services.TryAddSingleton<IKeyValueStore>(services => new InMemoryKeyValueStore(services.GetRequiredService<TimeProvider>()));
            builder.Services.TryAddSingleton<IStateNotifications>(services => new InMemoryStateNotifications(services.GetService<ILogger<InMemoryStateNotifications>>()));
            return builder;
        }
        builder.AddRedisClient(RedisConnectionName);
        var prefix = builder.Configuration[KeyPrefixKey] ?? RedisKeyValueStore.DefaultKeyPrefix;
        builder.Services.TryAddSingleton<IKeyValueStore>(services =>
            new RedisKeyValueStore(services.GetRequiredKeyedService<RedisConnection>(RedisConnectionName), prefix));
        // Subscriptions are made on demand (the registry proxy's request cache): a service that only publishes, or
        // does neither, opens no subscriber connection.
        builder.Services.TryAddSingleton<IStateNotifications>(services => new RedisStateNotifications(
            services.GetRequiredKeyedService<RedisConnection>(RedisConnectionName), prefix, services.GetService<ILoggerFactory>(), services.GetService<TimeProvider>()));
        return builder;
    }

    /// <summary>
    /// Aspire's client integration, by the same name: a <see cref="RedisConnection"/> singleton for
    /// ConnectionStrings:NAME (keyed by NAME; the first one registered is also the unkeyed one) and a PING health
    /// check named NAME on /health.
    /// </summary>
    public static TBuilder AddRedisClient<TBuilder>(this TBuilder builder, string connectionName) where TBuilder : IHostApplicationBuilder
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);
        var connectionString = builder.Configuration.GetConnectionString(connectionName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException(
                $"no connection string for Redis '{connectionName}': set ConnectionStrings:{connectionName} (ConnectionStrings__{connectionName})");
        }
        var options = RedisConnectionOptions.Parse(connectionString);
        builder.Services.AddKeyedSingleton(connectionName, (services, _) =>
        {
            var connection = new RedisConnection(options, services.GetService<ILogger<RedisConnection>>(), services.GetService<TimeProvider>());
            if (options.AbortConnect)
            {
                connection.ConnectAsync().GetAwaiter().GetResult();
            }
            return connection;
        });
        builder.Services.TryAddSingleton(services => services.GetRequiredKeyedService<RedisConnection>(connectionName));
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            connectionName,
            services => new RedisHealthCheck(services.GetRequiredKeyedService<RedisConnection>(connectionName)),
            failureStatus: HealthStatus.Unhealthy,
            tags: ["ready"],
            timeout: options.CommandTimeout + options.ConnectTimeout));
        return builder;
    }
}
