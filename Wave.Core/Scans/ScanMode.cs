using System.Diagnostics.CodeAnalysis;

namespace Wave.Core.Scans;

/// <summary>
/// A request's <c>scanMode</c>, as the Wave API names it: <c>none</c> (no scan), <c>async</c> (scan after the image is
/// ready, without holding it back), <c>required</c> (the container is DONE only once the scan passed the allowed levels).
/// </summary>
public enum ScanMode
{
    None,
    Async,
    Required,
}

public static class ScanModes
{
    public static string ToWire(this ScanMode mode) => mode switch
    {
        ScanMode.None => "none",
        ScanMode.Async => "async",
        ScanMode.Required => "required",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown scan mode"),
    };

    /// <summary>A request's value in any case; the error names the field and the values it may take.</summary>
    public static bool TryParse(string? value, out ScanMode mode, [NotNullWhen(false)] out string? error)
    {
        error = null;
        switch (value?.Trim().ToLowerInvariant())
        {
            case "none":
                mode = ScanMode.None;
                return true;
            case "async":
                mode = ScanMode.Async;
                return true;
            case "required":
                mode = ScanMode.Required;
                return true;
            default:
                mode = ScanMode.None;
                error = $"scanMode: '{value}' is not a scan mode (none, async or required)";
                return false;
        }
    }
}
