namespace Wave.Core.State;

/// <summary>
/// The shared, expiring state of the services: Redis in distributed mode, process memory in embedded mode.
/// Kept narrow so that both implementations can be tested against the same contract.
/// </summary>
public interface IKeyValueStore
{
    Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default);

    Task SetAsync(string key, byte[] value, TimeSpan? timeToLive, CancellationToken cancellationToken = default);

    /// <summary>Sets the key only when absent; true when this call set it.</summary>
    Task<bool> SetIfAbsentAsync(string key, byte[] value, TimeSpan? timeToLive, CancellationToken cancellationToken = default);

    /// <summary>True when the key existed.</summary>
    Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Adds to a counter; the time to live is set when the counter is created.</summary>
    Task<long> IncrementAsync(string key, long by, TimeSpan? timeToLive, CancellationToken cancellationToken = default);

    Task<long> HashIncrementAsync(string key, string field, long by, CancellationToken cancellationToken = default);

    Task<IReadOnlyDictionary<string, long>> HashGetAllAsync(string key, CancellationToken cancellationToken = default);
}

/// <summary>The backing store could not be reached: callers answer 503 rather than 500.</summary>
public sealed class StateUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
