namespace Wave.ServiceDefaults.Redis;

/// <summary>The typed commands Wave uses; anything else goes through ExecuteAsync.</summary>
public sealed partial class RedisConnection
{
    /// <summary>The round trip of a PING.</summary>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default)
    {
        var started = _time.GetTimestamp();
        var reply = await ExecuteAsync(["PING"], cancellationToken);
        if (reply.AsString() != "PONG")
        {
            throw new RedisProtocolException($"PING was answered with {reply}");
        }
        return _time.GetElapsedTime(started);
    }

    public async Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync(["GET", key], cancellationToken)).AsBytes();

    /// <summary>SET with optional PX and NX; false when NX was asked and the key already existed.</summary>
    public async Task<bool> SetAsync(string key, byte[] value, TimeSpan? expiry = null, bool onlyIfAbsent = false, CancellationToken cancellationToken = default)
    {
        var arguments = new List<object>(6) { "SET", key, value };
        if (expiry is { } ttl)
        {
            arguments.Add("PX");
            arguments.Add(ToMilliseconds(ttl));
        }
        if (onlyIfAbsent)
        {
            arguments.Add("NX");
        }
        return !(await ExecuteAsync(arguments, cancellationToken)).IsNull;
    }

    /// <summary>The number of keys that existed and were deleted.</summary>
    public async Task<long> DeleteAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync([(object)"DEL", .. keys], cancellationToken)).AsInt64();

    public async Task<long> IncrementByAsync(string key, long by, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync(["INCRBY", key, by], cancellationToken)).AsInt64();

    /// <summary>False when the key does not exist.</summary>
    public async Task<bool> PExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync(["PEXPIRE", key, ToMilliseconds(ttl)], cancellationToken)).AsInt64() == 1;

    public async Task<long> HashIncrementByAsync(string key, string field, long by, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync(["HINCRBY", key, field, by], cancellationToken)).AsInt64();

    public async Task<IReadOnlyDictionary<string, byte[]>> HashGetAllAsync(string key, CancellationToken cancellationToken = default)
    {
        var flat = (await ExecuteAsync(["HGETALL", key], cancellationToken)).AsArray();
        var fields = new Dictionary<string, byte[]>(flat.Count / 2, StringComparer.Ordinal);
        for (var i = 0; i + 1 < flat.Count; i += 2)
        {
            fields[flat[i].AsString()!] = flat[i + 1].AsBytes()!;
        }
        return fields;
    }

    /// <summary>
    /// PUBLISH: sends the message to every client subscribed to the channel at this moment (see
    /// <see cref="RedisSubscriber"/>); the number of subscribers that received it. Pub/sub channels ignore the
    /// database number: every client of the server shares them.
    /// </summary>
    public async Task<long> PublishAsync(string channel, byte[] message, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync(["PUBLISH", channel, message], cancellationToken)).AsInt64();

    public Task<RedisReply> EvalAsync(string script, IReadOnlyList<string> keys, IReadOnlyList<object> arguments, CancellationToken cancellationToken = default) =>
        ExecuteAsync([(object)"EVAL", script, keys.Count, .. keys, .. arguments], cancellationToken);

    /// <summary>Redis rejects PX 0; a positive sub-millisecond time to live is rounded up rather than rejected.</summary>
    internal static long ToMilliseconds(TimeSpan ttl) => ttl > TimeSpan.Zero
        ? Math.Max(1, (long)Math.Ceiling(ttl.TotalMilliseconds))
        : throw new ArgumentOutOfRangeException(nameof(ttl), ttl, "a time to live must be positive");
}
