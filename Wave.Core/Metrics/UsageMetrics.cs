using System.Globalization;

using Wave.Core.State;

namespace Wave.Core.Metrics;

/// <summary>The counted things, named as in the metrics API.</summary>
public enum UsageMetric
{
    Builds,
    Pulls,
    Fusion,
    Mirrors,
}

/// <summary>
/// Usage counters by day, organisation and architecture, kept as hashes (org → count) in the shared store:
/// one hash over all time and one per day, each also per architecture.
/// </summary>
public sealed class UsageMetrics(IKeyValueStore store, TimeProvider time)
{
    public static string Name(UsageMetric metric) => metric switch
    {
        UsageMetric.Builds => "builds",
        UsageMetric.Pulls => "pulls",
        UsageMetric.Mirrors => "mirrors",
        _ => "fusion",
    };

    private static string Key(UsageMetric metric, DateOnly? date, string? arch) =>
        $"metrics:{Name(metric)}:{(arch is null ? "" : $"arch={arch}:")}{(date is null ? "all" : date.Value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))}";

    public async Task RecordAsync(UsageMetric metric, string organization, string? architecture, CancellationToken cancellationToken)
    {
        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        var keys = new List<string> { Key(metric, null, null), Key(metric, today, null) };
        if (!string.IsNullOrEmpty(architecture))
        {
            keys.Add(Key(metric, null, architecture));
            keys.Add(Key(metric, today, architecture));
        }
        await Task.WhenAll(keys.Select(k => store.HashIncrementAsync(k, organization, 1, cancellationToken)));
    }

    /// <summary>Counts per organisation for a day (or all time), optionally for one architecture and one organisation.</summary>
    public async Task<IReadOnlyDictionary<string, long>> QueryAsync(UsageMetric metric, DateOnly? date, string? organization, string? architecture, CancellationToken cancellationToken)
    {
        var counts = await store.HashGetAllAsync(Key(metric, date, architecture), cancellationToken);
        return organization is null
            ? counts
            : counts.Where(c => string.Equals(c.Key, organization, StringComparison.OrdinalIgnoreCase)).ToDictionary(c => c.Key, c => c.Value);
    }
}
