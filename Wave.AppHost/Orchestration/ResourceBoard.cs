using System.Collections.Concurrent;

namespace Wave.AppHost.Orchestration;

public enum ResourceState
{
    Waiting,
    Starting,
    Running,
    Failed,
    Stopping,
    Stopped,
}

/// <summary>What the dashboard shows of one resource at one moment.</summary>
public sealed record ResourceSnapshot(
    string Name,
    string Type,
    ResourceState State,
    string? Source,
    string? Endpoint,
    int? ProcessId,
    string Health,
    int RestartCount,
    IReadOnlyList<string> Log);

/// <summary>The live state of every resource, written by the orchestrator and read by the dashboard.</summary>
public sealed class ResourceBoard
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];
    private readonly Lock _gate = new();

    public sealed class Entry(string name, string type)
    {
        public string Name { get; } = name;
        public string Type { get; } = type;
        public LogTail Log { get; } = new();
        public volatile ResourceState State = ResourceState.Waiting;
        public volatile string? Source;
        public volatile string? Endpoint;
        public volatile string Health = "Unknown";
        public int? ProcessId;
        public int RestartCount;

        public ResourceSnapshot Snapshot(int logLines) =>
            new(Name, Type, State, Source, Endpoint, ProcessId, Health, RestartCount, Log.Last(logLines));
    }

    public Entry Add(string name, string type)
    {
        var entry = new Entry(name, type);
        if (_entries.TryAdd(name, entry))
        {
            lock (_gate)
            {
                _order.Add(name);
            }
        }
        return _entries[name];
    }

    public Entry this[string name] => _entries[name];

    public IReadOnlyList<ResourceSnapshot> Snapshot(int logLines)
    {
        lock (_gate)
        {
            return [.. _order.Select(n => _entries[n].Snapshot(logLines))];
        }
    }
}
