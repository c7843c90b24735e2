using System.Diagnostics.CodeAnalysis;

namespace Wave.Core.Names;

/// <summary>A target platform: only linux/amd64 and linux/arm64 are served.</summary>
public sealed record ContainerPlatform(string Os, string Architecture, string? Variant)
{
    public static readonly ContainerPlatform LinuxAmd64 = new("linux", "amd64", null);
    public static readonly ContainerPlatform LinuxArm64 = new("linux", "arm64", "v8");

    private const string Supported = "supported platforms are linux/amd64 (also amd64, x86_64, linux/x86_64) and linux/arm64 (also linux/arm64/v8, arm64, aarch64, linux/aarch64)";

    /// <summary>Accepts linux/amd64, amd64, x86_64, linux/arm64, linux/arm64/v8, arm64, aarch64 (case-insensitive).</summary>
    public static bool TryParse(string? value, [NotNullWhen(true)] out ContainerPlatform? platform, [NotNullWhen(false)] out string? error)
    {
        platform = value?.ToLowerInvariant() switch
        {
            "linux/amd64" or "amd64" or "x86_64" or "linux/x86_64" => LinuxAmd64,
            "linux/arm64" or "linux/arm64/v8" or "arm64" or "aarch64" or "linux/aarch64" => LinuxArm64,
            _ => null,
        };
        error = platform is null ? $"unsupported platform '{value}': {Supported}" : null;
        return platform is not null;
    }

    public static ContainerPlatform Parse(string value) =>
        TryParse(value, out var platform, out var error) ? platform : throw new FormatException(error);

    /// <summary>True when a manifest list entry's platform fields denote this platform (a missing arm64 variant matches v8).</summary>
    public bool Matches(string? os, string? architecture, string? variant)
    {
        if (!string.Equals(os, Os, StringComparison.OrdinalIgnoreCase)
            || !string.Equals(NormaliseArchitecture(architecture), Architecture, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        // amd64 variants (v2, v3, ...) are CPU feature levels that every amd64 runtime pulls the same way.
        if (Architecture == "amd64")
        {
            return true;
        }
        return string.IsNullOrEmpty(variant) || string.IsNullOrEmpty(Variant)
            || string.Equals(variant, Variant, StringComparison.OrdinalIgnoreCase);
    }

    public override string ToString() => $"{Os}/{Architecture}";

    private static string? NormaliseArchitecture(string? architecture) => architecture?.ToLowerInvariant() switch
    {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        var other => other,
    };
}
