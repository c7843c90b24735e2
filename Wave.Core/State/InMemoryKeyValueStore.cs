using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace Wave.Core.State;

/// <summary>
/// <see cref="IKeyValueStore"/> in process memory, for embedded mode and tests; behaves as the Redis store does
/// (a counter reads back as its decimal text, a time to live is set when a counter is created).
/// Every update is a compare-and-swap of an immutable entry, so concurrent callers never lose an increment.
/// Expired entries are dropped when read, and by a sweep that writes run at most once per interval: memory
/// only grows through writes, so the writes are what keeps it bounded.
/// </summary>
public sealed class InMemoryKeyValueStore(TimeProvider timeProvider, TimeSpan? sweepInterval = null) : IKeyValueStore
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly TimeSpan _sweepInterval = sweepInterval ?? TimeSpan.FromMinutes(1);
    private long _nextSweepTicks = timeProvider.GetUtcNow().UtcTicks + (sweepInterval ?? TimeSpan.FromMinutes(1)).Ticks;

    public InMemoryKeyValueStore() : this(TimeProvider.System)
    {
    }

    private abstract record Entry(long? ExpiresAtTicks)
    {
        public bool IsExpired(long nowTicks) => ExpiresAtTicks is { } expires && expires <= nowTicks;
    }

    private sealed record BytesEntry(byte[] Value, long? ExpiresAtTicks) : Entry(ExpiresAtTicks);

    private sealed record CounterEntry(long Value, long? ExpiresAtTicks) : Entry(ExpiresAtTicks);

    private sealed record HashEntry(ImmutableDictionary<string, long> Fields) : Entry((long?)null);

    /// <summary>Entries held, expired ones not yet dropped included (for tests of the sweep).</summary>
    internal int Count => _entries.Count;

    private long Now => timeProvider.GetUtcNow().UtcTicks;

    private long? ExpiresAt(TimeSpan? timeToLive, long now) => timeToLive switch
    {
        null => null,
        { } ttl when ttl > TimeSpan.Zero => now + ttl.Ticks,
        { } ttl => throw new ArgumentOutOfRangeException(nameof(timeToLive), ttl, "a time to live must be positive"),
    };

    public Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        var entry = Live(key, Now);
        return Task.FromResult<byte[]?>(entry switch
        {
            null => null,
            BytesEntry bytes => bytes.Value.ToArray(),
            CounterEntry counter => Encoding.ASCII.GetBytes(counter.Value.ToString(CultureInfo.InvariantCulture)),
            _ => throw WrongType(key),
        });
    }

    public Task SetAsync(string key, byte[] value, TimeSpan? timeToLive, CancellationToken cancellationToken = default)
    {
        var now = Now;
        _entries[key] = new BytesEntry(value.ToArray(), ExpiresAt(timeToLive, now));
        SweepIfDue(now);
        return Task.CompletedTask;
    }

    public Task<bool> SetIfAbsentAsync(string key, byte[] value, TimeSpan? timeToLive, CancellationToken cancellationToken = default)
    {
        var now = Now;
        var candidate = new BytesEntry(value.ToArray(), ExpiresAt(timeToLive, now));
        while (true)
        {
            if (!_entries.TryGetValue(key, out var existing))
            {
                if (_entries.TryAdd(key, candidate))
                {
                    SweepIfDue(now);
                    return Task.FromResult(true);
                }
            }
            else if (!existing.IsExpired(now))
            {
                return Task.FromResult(false);
            }
            else if (_entries.TryUpdate(key, candidate, existing))
            {
                return Task.FromResult(true);
            }
        }
    }

    public Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) =>
        Task.FromResult(_entries.TryRemove(key, out var removed) && !removed.IsExpired(Now));

    public Task<long> IncrementAsync(string key, long by, TimeSpan? timeToLive, CancellationToken cancellationToken = default)
    {
        var now = Now;
        var created = new CounterEntry(by, ExpiresAt(timeToLive, now));
        var result = _entries.AddOrUpdate(key, created, (_, existing) => existing.IsExpired(now)
            ? created
            : existing switch
            {
                CounterEntry counter => counter with { Value = checked(counter.Value + by) },
                BytesEntry bytes when TryParseInteger(bytes.Value, out var value) => new CounterEntry(checked(value + by), bytes.ExpiresAtTicks),
                _ => throw WrongType(key),
            });
        SweepIfDue(now);
        return Task.FromResult(((CounterEntry)result).Value);
    }

    public Task<long> HashIncrementAsync(string key, string field, long by, CancellationToken cancellationToken = default)
    {
        var now = Now;
        var result = _entries.AddOrUpdate(key, new HashEntry(ImmutableDictionary<string, long>.Empty.WithComparers(StringComparer.Ordinal).Add(field, by)),
            (_, existing) => existing.IsExpired(now)
                ? new HashEntry(ImmutableDictionary<string, long>.Empty.WithComparers(StringComparer.Ordinal).Add(field, by))
                : existing is HashEntry hash
                    ? new HashEntry(hash.Fields.SetItem(field, checked(hash.Fields.GetValueOrDefault(field) + by)))
                    : throw WrongType(key));
        SweepIfDue(now);
        return Task.FromResult(((HashEntry)result).Fields[field]);
    }

    public Task<IReadOnlyDictionary<string, long>> HashGetAllAsync(string key, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyDictionary<string, long>>(Live(key, Now) switch
        {
            null => ImmutableDictionary<string, long>.Empty,
            HashEntry hash => hash.Fields,
            _ => throw WrongType(key),
        });

    /// <summary>Drops every expired entry now.</summary>
    internal void SweepExpired(long nowTicks)
    {
        foreach (var pair in _entries)
        {
            if (pair.Value.IsExpired(nowTicks))
            {
                _entries.TryRemove(pair); // only if unchanged since read: a fresh write under the key stays
            }
        }
    }

    private void SweepIfDue(long nowTicks)
    {
        var due = Volatile.Read(ref _nextSweepTicks);
        if (nowTicks >= due && Interlocked.CompareExchange(ref _nextSweepTicks, nowTicks + _sweepInterval.Ticks, due) == due)
        {
            SweepExpired(nowTicks);
        }
    }

    private Entry? Live(string key, long nowTicks)
    {
        if (!_entries.TryGetValue(key, out var entry))
        {
            return null;
        }
        if (entry.IsExpired(nowTicks))
        {
            _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
            return null;
        }
        return entry;
    }

    private static bool TryParseInteger(byte[] value, out long result) =>
        long.TryParse(Encoding.ASCII.GetString(value), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out result);

    private static InvalidOperationException WrongType(string key) =>
        new($"the key '{key}' holds a different kind of value");
}
