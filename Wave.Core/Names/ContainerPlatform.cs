using System.Diagnostics.CodeAnalysis;

namespace Wave.Core.Names;

/// <summary>A target platform: only linux/amd64 and linux/arm64 are served.</summary>
public sealed record ContainerPlatform(string Os, string Architecture, string? Variant)
{
    public static readonly ContainerPlatform LinuxAmd64 = new("linux", "amd64", null);
    public static readonly ContainerPlatform LinuxArm64 = new("linux", "arm64", "v8");

    /// <summary>Accepts linux/amd64, amd64, x86_64, linux/arm64, linux/arm64/v8, arm64, aarch64 (case-insensitive).</summary>
    public static bool TryParse(string? value, [NotNullWhen(true)] out ContainerPlatform? platform, [NotNullWhen(false)] out string? error)
    {
        throw new NotImplementedException();
    }

    /// <summary>True when a manifest list entry's platform fields denote this platform (a missing arm64 variant matches v8).</summary>
    public bool Matches(string? os, string? architecture, string? variant) => throw new NotImplementedException();

    public override string ToString() => throw new NotImplementedException();
}
