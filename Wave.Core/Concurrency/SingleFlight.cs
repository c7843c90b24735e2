using System.Collections.Concurrent;

namespace Wave.Core.Concurrency;

/// <summary>
/// Coalesces concurrent calls for the same key into one: a caller that arrives while a call for its key is in flight
/// waits for that call's result (or exception) instead of starting another. Nothing is kept once the call completes,
/// so a caller never gets a result that was complete before it arrived.
/// </summary>
public sealed class SingleFlight<TKey, TValue> where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, Lazy<Task<TValue>>> _inFlight = new();

    /// <summary>
    /// The result of <paramref name="call"/> for <paramref name="key"/>, shared with concurrent callers of the same key.
    /// The shared call is not cancelled by any one caller: <paramref name="cancellationToken"/> only stops this caller's wait.
    /// </summary>
    public Task<TValue> RunAsync(TKey key, Func<TKey, Task<TValue>> call, CancellationToken cancellationToken = default)
    {
        Lazy<Task<TValue>>? flight = null;
        flight = new Lazy<Task<TValue>>(() => FlyAsync(key, flight!, call), LazyThreadSafetyMode.ExecutionAndPublication);
        var shared = _inFlight.GetOrAdd(key, flight);
        return shared.Value.WaitAsync(cancellationToken);
    }

    /// <summary>Calls in flight now (for tests).</summary>
    public int Count => _inFlight.Count;

    private async Task<TValue> FlyAsync(TKey key, Lazy<Task<TValue>> flight, Func<TKey, Task<TValue>> call)
    {
        try
        {
            return await call(key);
        }
        finally
        {
            // Only this flight: a later one for the same key may already be in the map.
            _inFlight.TryRemove(new KeyValuePair<TKey, Lazy<Task<TValue>>>(key, flight));
        }
    }
}
