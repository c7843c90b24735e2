using System.Globalization;

using Wave.Core.State;

namespace Wave.ServiceDefaults.Redis;

/// <summary>
/// <see cref="IKeyValueStore"/> on Redis: values as bulk strings, counters as Redis integers, every key under a
/// prefix so that Wave can share a Redis with others.
/// </summary>
public sealed class RedisKeyValueStore(RedisConnection connection, string keyPrefix = RedisKeyValueStore.DefaultKeyPrefix) : IKeyValueStore
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

    public string KeyPrefix { get; } = keyPrefix;

    private string Key(string key) => KeyPrefix + key;

    public Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default) =>
        connection.GetAsync(Key(key), cancellationToken);

    public Task SetAsync(string key, byte[] value, TimeSpan? timeToLive, CancellationToken cancellationToken = default) =>
        connection.SetAsync(Key(key), value, timeToLive, onlyIfAbsent: false, cancellationToken);

    public Task<bool> SetIfAbsentAsync(string key, byte[] value, TimeSpan? timeToLive, CancellationToken cancellationToken = default) =>
        connection.SetAsync(Key(key), value, timeToLive, onlyIfAbsent: true, cancellationToken);

    public async Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) =>
        await connection.DeleteAsync([Key(key)], cancellationToken) > 0;

    public async Task<long> IncrementAsync(string key, long by, TimeSpan? timeToLive, CancellationToken cancellationToken = default)
    {
        var milliseconds = timeToLive is { } ttl ? RedisConnection.ToMilliseconds(ttl) : 0;
        var reply = await connection.EvalAsync(IncrementWithTimeToLive, [Key(key)], [by, milliseconds], cancellationToken);
        return reply.AsInt64();
    }

    public Task<long> HashIncrementAsync(string key, string field, long by, CancellationToken cancellationToken = default) =>
        connection.HashIncrementByAsync(Key(key), field, by, cancellationToken);

    public async Task<IReadOnlyDictionary<string, long>> HashGetAllAsync(string key, CancellationToken cancellationToken = default)
    {
        var fields = await connection.HashGetAllAsync(Key(key), cancellationToken);
        return fields.ToDictionary(
            field => field.Key,
            field => long.Parse(System.Text.Encoding.ASCII.GetString(field.Value), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture),
            StringComparer.Ordinal);
    }
}
