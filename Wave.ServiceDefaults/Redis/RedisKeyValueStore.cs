using System.Globalization;

using StackExchange.Redis;

using Wave.Core.State;

namespace Wave.ServiceDefaults.Redis;

/// <summary>
/// <see cref="IKeyValueStore"/> on the process's one <see cref="IConnectionMultiplexer"/> (Aspire.StackExchange.Redis):
/// values as Redis strings, counters as Redis integers, every key under a prefix so that Wave can share a Redis with
/// others. A Redis that cannot be reached is a <see cref="StateUnavailableException"/> (callers answer 503), whose
/// message names the endpoint and the kind of failure but never a key: keys carry container tokens.
/// </summary>
public sealed class RedisKeyValueStore(IConnectionMultiplexer redis, string keyPrefix = RedisKeyValueStore.DefaultKeyPrefix) : IKeyValueStore
{
    public const string DefaultKeyPrefix = "wave:";

    // The time to live is set only when this increment created the counter: a window that keeps counting must
    // still end when it was meant to. One script, so no other client sees the counter without its expiry.
    private const string IncrementWithTimeToLive = """
        local existed = redis.call('EXISTS', KEYS[1])
        local value = redis.call('INCRBY', KEYS[1], ARGV[1])
        if existed == 0 and tonumber(ARGV[2]) > 0 then
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        return value
        """;

    private readonly IDatabase _database = redis.GetDatabase();

    public string KeyPrefix { get; } = keyPrefix;

    private RedisKey Key(string key) => KeyPrefix + key;

    public Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default) =>
        RunAsync(async () => (byte[]?)await _database.StringGetAsync(Key(key)));

    public Task SetAsync(string key, byte[] value, TimeSpan? timeToLive, CancellationToken cancellationToken = default)
    {
        CheckTimeToLive(timeToLive);
        return RunAsync(() => _database.StringSetAsync(Key(key), value, timeToLive, When.Always));
    }

    public Task<bool> SetIfAbsentAsync(string key, byte[] value, TimeSpan? timeToLive, CancellationToken cancellationToken = default)
    {
        CheckTimeToLive(timeToLive);
        return RunAsync(() => _database.StringSetAsync(Key(key), value, timeToLive, When.NotExists));
    }

    public Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) =>
        RunAsync(() => _database.KeyDeleteAsync(Key(key)));

    public Task<long> IncrementAsync(string key, long by, TimeSpan? timeToLive, CancellationToken cancellationToken = default)
    {
        CheckTimeToLive(timeToLive);
        var milliseconds = timeToLive is { } ttl ? Math.Max(1, (long)Math.Ceiling(ttl.TotalMilliseconds)) : 0;
        return RunAsync(async () => (long)await _database.ScriptEvaluateAsync(IncrementWithTimeToLive, [Key(key)], [by, milliseconds]));
    }

    public Task<long> HashIncrementAsync(string key, string field, long by, CancellationToken cancellationToken = default) =>
        RunAsync(() => _database.HashIncrementAsync(Key(key), field, by));

    public Task<IReadOnlyDictionary<string, long>> HashGetAllAsync(string key, CancellationToken cancellationToken = default) =>
        RunAsync<IReadOnlyDictionary<string, long>>(async () =>
        {
            var entries = await _database.HashGetAllAsync(Key(key));
            return entries.ToDictionary(
                entry => (string)entry.Name!,
                entry => long.Parse((string)entry.Value!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture),
                StringComparer.Ordinal);
        });

    /// <summary>Redis rejects PX 0: a time to live must be positive (a sub-millisecond one is rounded up by the client).</summary>
    private static void CheckTimeToLive(TimeSpan? timeToLive)
    {
        if (timeToLive is { } ttl && ttl <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeToLive), ttl, "a time to live must be positive");
        }
    }

    private async Task<T> RunAsync<T>(Func<Task<T>> command)
    {
        try
        {
            return await command();
        }
        catch (Exception e) when (RedisFailures.IsUnavailable(e))
        {
            throw RedisFailures.Unavailable(redis, e);
        }
    }

    private async Task RunAsync(Func<Task> command)
    {
        try
        {
            await command();
        }
        catch (Exception e) when (RedisFailures.IsUnavailable(e))
        {
            throw RedisFailures.Unavailable(redis, e);
        }
    }
}
