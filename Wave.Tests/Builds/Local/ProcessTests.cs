using System.Threading.Channels;

using Wave.Builder.Local;
using Wave.Tests.AppHost;
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

        var entries = ProcessTable.Snapshot().Where(p => members.Contains(p.Pid)).ToList();
        Assert.Equal(members.Count, entries.Count);
        ProcessTree.Kill(tree.Id);
        await tree.WaitForExitAsync(TimeSpan.FromSeconds(5));
        // SIGKILL is delivered asynchronously: a stopped sibling may still be on its way out when the root has been
        // reaped, so each member gets a few seconds (ProcessTable tells a pid taken over by a newer process apart).
        foreach (var entry in entries)
        {
            for (var waited = 0; waited < 50 && ProcessTable.IsAlive(entry); waited++)
            {
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }
            Assert.False(ProcessTable.IsAlive(entry), $"process {entry} survived");
        }
    }

    private static async Task AssertGoneAsync(string marker)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            if (!ProcessTable.Snapshot().Any(p => p.CommandLine.Contains(marker, StringComparison.Ordinal)))
            {
                return;
            }
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        Assert.Fail($"processes of the cancelled command are still running ({marker})");
    }
}
