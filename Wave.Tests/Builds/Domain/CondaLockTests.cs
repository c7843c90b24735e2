using Wave.Core.Builds;

namespace Wave.Tests.Builds.Domain;

public sealed class CondaLockTests
{
    private const string Lock = "# platform: linux-64\n@EXPLICIT\nhttps://conda.anaconda.org/bioconda/linux-64/salmon-1.10.3-h6dccd9a_2.tar.bz2#abc\n";

    [Fact]
    public void LockIsTheTextBetweenTheMarkers()
    {
        var log = "STEP 3/6: RUN micromamba install ... && echo \">> CONDA_LOCK_START\" && cat environment.lock && echo \"<< CONDA_LOCK_END\"\n"
            + "Transaction finished\n>> CONDA_LOCK_START\n" + Lock + "<< CONDA_LOCK_END\nSTEP 4/6: USER root\n";
        Assert.Equal(Lock, CondaLock.Extract(log));
    }

    [Fact]
    public void PrefixedMarkerLinesAndCarriageReturnsAreRead()
    {
        var log = "#8 12.1 >> CONDA_LOCK_START\r\n@EXPLICIT\r\n#8 12.2 << CONDA_LOCK_END\r\n";
        Assert.Equal("@EXPLICIT\n", CondaLock.Extract(log));
    }

    [Fact]
    public void LastCompleteLockWins()
    {
        var log = ">> CONDA_LOCK_START\nold\n<< CONDA_LOCK_END\nretry\n>> CONDA_LOCK_START\nnew\n<< CONDA_LOCK_END\n";
        Assert.Equal("new\n", CondaLock.Extract(log));
    }

    [Theory]
    [InlineData("")]
    [InlineData("no markers at all\n")]
    [InlineData(">> CONDA_LOCK_START\n@EXPLICIT\nbuild failed here\n")]
    [InlineData("<< CONDA_LOCK_END\n>> CONDA_LOCK_START\n")]
    public void NoCompleteLockGivesNull(string log) => Assert.Null(CondaLock.Extract(log));

    [Fact]
    public void EmptyLockIsEmptyText() => Assert.Equal("", CondaLock.Extract(">> CONDA_LOCK_START\n<< CONDA_LOCK_END\n"));
}
