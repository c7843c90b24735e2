using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

using StackExchange.Redis;

using Wave.Core.State;
using Wave.ServiceDefaults.Redis;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Where the services keep their shared state, and how they tell each other it changed (<see cref="IStateNotifications"/>):
/// Redis when Aspire gave a connection string (one <see cref="IConnectionMultiplexer"/> from Aspire.StackExchange.Redis,
/// its pub/sub included), process memory otherwise.
/// </summary>
public static class StateExtensions
{
    /// <summary>The Aspire resource name of Redis: ConnectionStrings:redis (ConnectionStrings__redis).</summary>
    public const string RedisConnectionName = "redis";

    /// <summary>Configuration key of the prefix of every Wave key (and pub/sub channel) in Redis.</summary>
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
        if (builder.Services.Any(d => d.ServiceType == typeof(IConnectionMultiplexer) && !d.IsKeyedService))
        {
            return builder; // a second service of the same host: the first registered everything
        }
        builder.AddRedisClient(RedisConnectionName,
            settings => settings.DisableTracing = !ServiceDefaultsExtensions.ExportsTelemetry(builder.Configuration),
            ConfigureForWave);
        builder.RenameHealthCheck("StackExchange.Redis", RedisConnectionName);
        var prefix = builder.Configuration[KeyPrefixKey] ?? RedisKeyValueStore.DefaultKeyPrefix;
        builder.Services.TryAddSingleton<IKeyValueStore>(services => new RedisKeyValueStore(services.GetRequiredService<IConnectionMultiplexer>(), prefix));
        // Subscriptions are made on demand (the registry proxy's request cache): a service that only publishes, or
        // does neither, never subscribes.
        builder.Services.TryAddSingleton<IStateNotifications>(services => new RedisStateNotifications(
            services.GetRequiredService<IConnectionMultiplexer>(), prefix, services.GetService<ILoggerFactory>(), services.GetService<TimeProvider>()));
        return builder;
    }

    /// <summary>
    /// What Wave changes in StackExchange.Redis's defaults, after the connection string was read (Aspire already
    /// turns AbortOnConnectFail off, so a service starts while Redis is down and connects when it comes):
    /// <list type="bullet">
    /// <item>BacklogPolicy.FailFast: while there is no connection, a command fails at once (the caller answers 503)
    /// instead of waiting in the client's backlog for up to the command timeout (5 s) with every request behind it.</item>
    /// <item>Reconnection every 250 ms, backing off to 2 s: Redis restarted is used again within about a second, where the
    /// client's own default (exponential from half the connect timeout) waited 2.5–10 s.</item>
    /// <item>No key in exception messages: Wave's keys carry container tokens.</item>
    /// <item>The .NET thread pool for the connection's reads and writes (SocketManager.ThreadPool) instead of the client's
    /// own dedicated threads: on a small machine those threads compete with Kestrel's for the same cores, and the
    /// registry proxy's manifest GET, one Redis read per request when its cache is off, measured slower with them.</item>
    /// <item>No configuration channel: Wave runs no replica switch-overs through it, and an ACL user limited to Wave's
    /// own channels could not subscribe to it.</item>
    /// </list>
    /// </summary>
    internal static void ConfigureForWave(ConfigurationOptions options)
    {
        options.BacklogPolicy = BacklogPolicy.FailFast;
        options.SocketManager = SocketManager.ThreadPool;
        options.ReconnectRetryPolicy = new ExponentialRetry(deltaBackOffMilliseconds: 250, maxDeltaBackOffMilliseconds: 2_000);
        options.IncludeDetailInExceptions = false;
        options.ConfigurationChannel = "";
    }
}
