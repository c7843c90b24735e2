using System.Diagnostics.Metrics;

using Wave.Core.Telemetry;

namespace Wave.Core.Mirrors;

/// <summary>
/// The mirror's instruments on Wave's meter, beside the build ones (<c>wave.builds.*</c>): copies started and
/// completed (tagged <c>wave.mirror.result</c> = succeeded | failed), their duration, and the blob bytes they moved or
/// found at the target already (tagged <c>wave.mirror.blob</c> = copied | skipped).
/// </summary>
public static class MirrorTelemetry
{
    public const string Span = "mirror";
    public const string MirrorIdTag = "wave.mirror.id";
    public const string ResultTag = "wave.mirror.result";
    public const string BlobTag = "wave.mirror.blob";

    public static readonly Counter<long> Started = WaveTelemetry.Meter.CreateCounter<long>("wave.mirrors.started", "{mirror}", "Mirrors a builder started copying");

    public static readonly Counter<long> Completed = WaveTelemetry.Meter.CreateCounter<long>("wave.mirrors.completed", "{mirror}", "Mirrors that reached a terminal state");

    public static readonly Histogram<double> Duration = WaveTelemetry.Meter.CreateHistogram<double>("wave.mirror.duration", "s", "How long a mirror copy ran");

    public static readonly Counter<long> Bytes = WaveTelemetry.Meter.CreateCounter<long>("wave.mirror.bytes", "By", "Blob bytes a mirror copied, or found at its target already");

    public static void RecordStarted()
    {
        if (Started.Enabled)
        {
            Started.Add(1);
        }
    }

    public static void RecordCompleted(bool succeeded, TimeSpan duration)
    {
        var result = new KeyValuePair<string, object?>(ResultTag, succeeded ? "succeeded" : "failed");
        if (Completed.Enabled)
        {
            Completed.Add(1, result);
        }
        if (Duration.Enabled)
        {
            Duration.Record(duration.TotalSeconds, result);
        }
    }

    public static void RecordBlob(long bytes, bool copied)
    {
        if (Bytes.Enabled)
        {
            Bytes.Add(bytes, new KeyValuePair<string, object?>(BlobTag, copied ? "copied" : "skipped"));
        }
    }
}
