using Wave.Core.Builds;

namespace Wave.Tests.Builds.Domain;

public sealed class BuildIdTests
{
    [Fact]
    public void BuildIdIsPrefixIdAndAttempt()
    {
        Assert.Equal("bd-0123456789abcdef_1", BuildId.Format("0123456789abcdef", 1));
        Assert.Equal("bd-0123456789abcdef_12", BuildId.Format("0123456789abcdef", 12));
    }

    [Fact]
    public void BuildIdRefusesBadParts()
    {
        Assert.Throws<ArgumentException>(() => BuildId.Format("XYZ", 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => BuildId.Format("0123456789abcdef", 0));
    }

    [Fact]
    public void BuildIdRoundTrips()
    {
        Assert.True(BuildId.TryParse("bd-0123456789abcdef_7", out var id, out var attempt));
        Assert.Equal(("0123456789abcdef", 7), (id, attempt));
    }

    [Theory]
    [InlineData("0123456789abcdef_1")]
    [InlineData("bd-0123456789abcdef")]
    [InlineData("bd-0123456789abcdef_0")]
    [InlineData("bd-0123456789abcdef_01")]
    [InlineData("bd-0123456789abcdef_-1")]
    [InlineData("bd-0123456789ABCDEF_1")]
    [InlineData("bd-0123_1")]
    [InlineData(null)]
    public void NonBuildIdsDoNotParse(string? value) => Assert.False(BuildId.TryParse(value, out _, out _));

    [Fact]
    public void PlanMakesBuildIdsForAttempts()
    {
        var plan = BuildFields.Plan(BuildFields.Dockerfile("FROM busybox\n"));
        Assert.Equal($"bd-{plan.ContainerId}_3", plan.BuildId(3));
    }
}
