using System.Threading.Channels;

using Wave.Builder.Local;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Builds.Local;

/// <summary>Streaming a command's lines as they come, and killing whole process trees (real processes).</summary>
public sealed class ProcessTests
{
    private static readonly Dictionary<string, string> NoEnvironment = [];

    [Fact]
    public async Task Lines_reach_the_callback_while_the_command_still_runs()
    {
        var sh = Requirements.Binary("sh", "dash");
        var lines = Channel.CreateUnbounded<string>();
        var running = StreamedProcess.RunAsync(sh, ["-c", "echo first; echo to-stderr >&2; sleep 5; echo last"], NoEnvironment,
            line => lines.Writer.WriteAsync(line, TestContext.Current.CancellationToken), TestContext.Current.CancellationToken);

        using var soon = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        soon.CancelAfter(TimeSpan.FromSeconds(4));
        var early = new[] { await lines.Reader.ReadAsync(soon.Token), await lines.Reader.ReadAsync(soon.Token) };
        Assert.False(running.IsCompleted);
        Assert.Equal(["first", "to-stderr"], early.Order());

        Assert.Equal(0, await running);
        Assert.Equal("last", await lines.Reader.ReadAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task The_exit_code_is_the_commands()
    {
        var sh = Requirements.Binary("sh", "dash");
        Assert.Equal(7, await StreamedProcess.RunAsync(sh, ["-c", "exit 7"], NoEnvironment, _ => ValueTask.CompletedTask, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Cancellation_kills_every_descendant_keeps_the_lines_so_far_and_throws()
    {
        var sh = Requirements.Binary("sh", "dash");
        var marker = "wave-tree-" + Guid.NewGuid().ToString("N")[..8];
        var lines = new List<string>();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        // Three generations, the grandchildren started in the background as buildah's RUN steps are.
        var script = $"echo started; sh -c 'sleep 60 & sleep 60 & wait; echo {marker}' & sh -c 'sleep 61; echo {marker}' & wait";
        var running = StreamedProcess.RunAsync(sh, ["-c", script], NoEnvironment, line =>
        {
            lock (lines)
            {
                lines.Add(line);
            }
            return ValueTask.CompletedTask;
        }, cancel.Token);
        for (var waited = 0; waited < 100 && !Started(); waited++)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        await Task.Delay(300, TestContext.Current.CancellationToken); // let the grandchildren start
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        Assert.Equal(["started"], lines);

        bool Started()
        {
            lock (lines)
            {
                return lines.Count > 0;
            }
        }
        await AssertGoneAsync(marker);
    }

    [Fact]
    public void The_parent_id_is_read_from_stat_even_when_the_command_name_has_spaces_and_parentheses()
    {
        Assert.Equal(42, ProcessTree.ParentFromStat("1234 (odd) name (x)) S 42 1234 1234 0 -1"));
        Assert.Equal(1, ProcessTree.ParentFromStat("7 (sleep) S 1 7 7 0 -1 4194560"));
        Assert.Null(ProcessTree.ParentFromStat("garbage"));
    }

    [Fact]
    public async Task The_members_of_a_tree_are_the_process_and_all_its_descendants()
    {
        var sh = Requirements.Binary("sh", "dash");
        await using var tree = TestProcess.Start(sh, ["-c", "sh -c 'sleep 30' & sleep 30 & wait"]);
        var members = ProcessTree.Members(tree.Id);
        for (var waited = 0; waited < 50 && members.Count < 4; waited++)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
            members = ProcessTree.Members(tree.Id);
        }

        Assert.Contains(tree.Id, members);
        Assert.True(members.Count >= 4, $"expected the shell, the inner shell and two sleeps; found {members.Count}");
        Assert.DoesNotContain(Environment.ProcessId, members);

        var started = members.ToDictionary(pid => pid, StartTime);
        ProcessTree.Kill(tree.Id);
        await tree.WaitForExitAsync(TimeSpan.FromSeconds(5));
        // SIGKILL is delivered asynchronously: a stopped sibling may still be on its way out when the root
        // has been reaped, so each member gets a few seconds, and a pid taken over by a newer process counts as gone.
        foreach (var pid in members)
        {
            for (var waited = 0; waited < 50 && IsAlive(pid) && StartTime(pid) == started[pid]; waited++)
            {
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }
            Assert.False(IsAlive(pid) && StartTime(pid) == started[pid], $"process {pid} survived");
        }
    }

    /// <summary>The start time in clock ticks (field 22 of <c>/proc/PID/stat</c>), or null when the process is gone.</summary>
    private static string? StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields.Length > 19 ? fields[19] : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static async Task AssertGoneAsync(string marker)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var alive = Directory.EnumerateDirectories("/proc")
                .Where(d => int.TryParse(Path.GetFileName(d), out _))
                .Where(d => ReadCommandLine(d).Contains(marker, StringComparison.Ordinal))
                .ToList();
            if (alive.Count == 0)
            {
                return;
            }
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        Assert.Fail($"processes of the cancelled command are still running ({marker})");
    }

    private static string ReadCommandLine(string procDirectory)
    {
        try
        {
            return File.ReadAllText(Path.Combine(procDirectory, "cmdline")).Replace('\0', ' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    /// <summary>Alive and not a zombie (a killed process stays a zombie until its parent reaps it).</summary>
    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0] != "Z";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
