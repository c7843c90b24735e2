using Wave.Core.Names;

namespace Wave.Tests.Core;

public sealed class ContainerPlatformTests
{
    [Theory]
    [InlineData("linux/amd64")]
    [InlineData("amd64")]
    [InlineData("x86_64")]
    [InlineData("linux/x86_64")]
    [InlineData("LINUX/AMD64")]
    [InlineData("X86_64")]
    public void ParsesAmd64Spellings(string value)
    {
        Assert.True(ContainerPlatform.TryParse(value, out var platform, out var error), error);
        Assert.Same(ContainerPlatform.LinuxAmd64, platform);
        Assert.Equal("linux/amd64", platform.ToString());
    }

    [Theory]
    [InlineData("linux/arm64")]
    [InlineData("linux/arm64/v8")]
    [InlineData("arm64")]
    [InlineData("aarch64")]
    [InlineData("linux/aarch64")]
    [InlineData("Linux/ARM64/V8")]
    public void ParsesArm64Spellings(string value)
    {
        Assert.True(ContainerPlatform.TryParse(value, out var platform, out var error), error);
        Assert.Same(ContainerPlatform.LinuxArm64, platform);
        Assert.Equal("linux/arm64", platform.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("linux/")]
    [InlineData("linux")]
    [InlineData("linux/ppc64le")]
    [InlineData("linux/s390x")]
    [InlineData("linux/arm/v7")]
    [InlineData("linux/arm64/v7")]
    [InlineData("windows/amd64")]
    [InlineData("darwin/arm64")]
    [InlineData(" linux/amd64")]
    [InlineData("linux/amd64/")]
    public void RejectsEverythingElseNamingWhatIsSupported(string? value)
    {
        Assert.False(ContainerPlatform.TryParse(value, out var platform, out var error));
        Assert.Null(platform);
        Assert.Contains("linux/amd64", error, StringComparison.Ordinal);
        Assert.Contains("linux/arm64", error, StringComparison.Ordinal);
        Assert.Contains($"'{value}'", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("linux", "arm64", null, true)]
    [InlineData("linux", "arm64", "", true)]
    [InlineData("linux", "arm64", "v8", true)]
    [InlineData("linux", "arm64", "v9", false)]
    [InlineData("linux", "arm", "v7", false)]
    [InlineData("linux", "amd64", null, false)]
    [InlineData("windows", "arm64", "v8", false)]
    [InlineData(null, "arm64", "v8", false)]
    public void Arm64MatchesAMissingOrV8Variant(string? os, string? architecture, string? variant, bool matches) =>
        Assert.Equal(matches, ContainerPlatform.LinuxArm64.Matches(os, architecture, variant));

    [Theory]
    [InlineData("linux", "amd64", null, true)]
    [InlineData("linux", "amd64", "v3", true)]
    [InlineData("linux", "arm64", null, false)]
    [InlineData("windows", "amd64", null, false)]
    [InlineData("unknown", "unknown", null, false)]
    public void Amd64IgnoresTheVariant(string? os, string? architecture, string? variant, bool matches) =>
        Assert.Equal(matches, ContainerPlatform.LinuxAmd64.Matches(os, architecture, variant));
}
