using System.Collections.Concurrent;

using Wave.Core.Builds;

namespace Wave.Tests.Builds.Kubernetes;

/// <summary>A log sink that keeps everything, for assertions.</summary>
public sealed class CollectingLogSink : IBuildLogSink
{
    private readonly ConcurrentQueue<string> _parts = new();

    public string Text => string.Concat(_parts);

    public ValueTask AppendAsync(string text, CancellationToken cancellationToken)
    {
        _parts.Enqueue(text);
        return ValueTask.CompletedTask;
    }
}
