namespace Wave.AppHost.Orchestration;

/// <summary>The last lines a resource wrote, for the dashboard; older lines are dropped.</summary>
public sealed class LogTail(int capacity = 500)
{
    private readonly Queue<string> _lines = new();
    private readonly Lock _gate = new();

    public void Add(string line)
    {
        lock (_gate)
        {
            _lines.Enqueue(line);
            while (_lines.Count > capacity)
            {
                _lines.Dequeue();
            }
        }
    }

    public IReadOnlyList<string> Last(int count)
    {
        lock (_gate)
        {
            return [.. _lines.Skip(Math.Max(0, _lines.Count - count))];
        }
    }
}
