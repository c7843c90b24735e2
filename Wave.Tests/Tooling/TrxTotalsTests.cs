using Wave.Tests.Infrastructure;

namespace Wave.Tests.Tooling;

/// <summary>scripts/trx-totals.sh turns the TRX files of a run into the last line scripts/test.sh prints.</summary>
public sealed class TrxTotalsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wave-trx-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Counts_passed_failed_and_skipped_tests_of_one_file()
    {
        // As VSTest writes it for 5 passed, 1 failed and 2 skipped (xunit skips are in total, not in executed).
        var trx = Write("one.trx", Counters(total: 8, executed: 6, passed: 5, failed: 1));

        var (code, output) = await TotalsAsync(trx);

        Assert.Equal(0, code);
        Assert.Equal("5 passed, 1 failed, 2 skipped", output);
    }

    [Fact]
    public async Task Sums_several_files()
    {
        var first = Write("a.trx", Counters(total: 3, executed: 3, passed: 3, failed: 0));
        var second = Write("b.trx", Counters(total: 10, executed: 7, passed: 4, failed: 3));

        var (code, output) = await TotalsAsync(first, second);

        Assert.Equal(0, code);
        Assert.Equal("7 passed, 3 failed, 3 skipped", output);
    }

    [Fact]
    public async Task Counts_errors_timeouts_and_aborts_as_failures_whatever_the_attribute_order_and_line_breaks()
    {
        var trx = Write("odd.trx", """
            <?xml version="1.0" encoding="utf-8"?>
            <TestRun xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
              <ResultSummary outcome="Failed">
                <Counters passed="2" failed="1"
                    error="1" timeout="1" aborted="1" executed="6" total="7" notExecuted="0" />
              </ResultSummary>
            </TestRun>
            """);

        var (code, output) = await TotalsAsync(trx);

        Assert.Equal(0, code);
        Assert.Equal("2 passed, 4 failed, 1 skipped", output);
    }

    [Fact]
    public async Task No_files_means_no_tests()
    {
        var (code, output) = await TotalsAsync();

        Assert.Equal(0, code);
        Assert.Equal("0 passed, 0 failed, 0 skipped", output);
    }

    [Fact]
    public async Task A_file_without_counters_or_a_missing_file_is_an_error_but_the_others_still_count()
    {
        var good = Write("good.trx", Counters(total: 2, executed: 2, passed: 2, failed: 0));
        var truncated = Write("truncated.trx", """<?xml version="1.0" encoding="utf-8"?><TestRun><Results>""");
        var missing = Path.Combine(_dir, "missing.trx");

        var (code, output) = await TotalsAsync(good, truncated, missing);

        Assert.Equal(2, code);
        Assert.Equal("2 passed, 0 failed, 0 skipped", output);
    }

    private static string Counters(int total, int executed, int passed, int failed) => $"""
        <?xml version="1.0" encoding="utf-8"?>
        <TestRun id="7d3c3a0e-0000-0000-0000-000000000000" name="run" xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
          <ResultSummary outcome="{(failed > 0 ? "Failed" : "Completed")}">
            <Counters total="{total}" executed="{executed}" passed="{passed}" failed="{failed}" error="0" timeout="0" aborted="0" inconclusive="0" passedButRunAborted="0" notRunnable="0" notExecuted="0" disconnected="0" warning="0" completed="0" inProgress="0" pending="0" />
          </ResultSummary>
        </TestRun>
        """;

    private string Write(string name, string content)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    private static async Task<(int Code, string Output)> TotalsAsync(params string[] files)
    {
        var script = Path.Combine(RepositoryRoot.Path, "scripts", "trx-totals.sh");
        await using var process = TestProcess.Start(Requirements.Binary("bash", "bash"), [script, .. files]);
        var code = await process.WaitForExitAsync(TimeSpan.FromSeconds(30));
        await Task.Delay(20); // the last asynchronous output lines arrive just after exit
        return (code, process.StandardOutput.TrimEnd('\n'));
    }
}

internal static class RepositoryRoot
{
    /// <summary>The folder holding Wave.sln, found upwards from the test assembly.</summary>
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Wave.sln")))
            {
                return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException($"no Wave.sln above {AppContext.BaseDirectory}");
    }
}
