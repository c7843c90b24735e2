using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Wave.Core.Telemetry;

/// <summary>
/// The one activity source and meter of Wave's own code. Service defaults listen to "Wave" and "Wave.*", so a
/// component that wants its own name uses "Wave.Something" and is exported without further wiring.
/// </summary>
public static class WaveTelemetry
{
    public const string Name = "Wave";

    public static readonly ActivitySource ActivitySource = new(Name);

    public static readonly Meter Meter = new(Name);
}
