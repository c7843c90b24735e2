namespace Wave.AppHost.Dashboard;

/// <summary>The spans the services sent, the most recent ones kept, with a running count per service.</summary>
public sealed class TraceStore(int capacity = 1000)
{
    private readonly Queue<ReceivedSpan> _spans = new();
    private readonly Dictionary<string, long> _counts = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public void Add(IEnumerable<ReceivedSpan> spans)
    {
        lock (_gate)
        {
            foreach (var span in spans)
            {
                _spans.Enqueue(span);
                _counts[span.Service] = _counts.GetValueOrDefault(span.Service) + 1;
                while (_spans.Count > capacity)
                {
                    _spans.Dequeue();
                }
            }
        }
    }

    public IReadOnlyDictionary<string, long> CountsByService()
    {
        lock (_gate)
        {
            return new Dictionary<string, long>(_counts, StringComparer.Ordinal);
        }
    }

    public IReadOnlyList<ReceivedSpan> Recent(int count)
    {
        lock (_gate)
        {
            return [.. _spans.Reverse().Take(count)];
        }
    }
}
