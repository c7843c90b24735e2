using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

using Wave.Builder.Worker;
using Wave.Core.Builds;
using Wave.Core.Persistence;
using Wave.ServiceDefaults.Sqlite;
using Wave.Tests.Persistence;
using Wave.Tests.State;

namespace Wave.Tests.Faults;

/// <summary>
/// Builds no builder will finish (a job lost with its broker, a builder gone for good) are ended by the sweeper, on a
/// real SQLite store and a clock moved by hand: RUNNING beyond timeout + grace, PENDING beyond the longest wait. Builds
/// within their time are left alone.
/// </summary>
public sealed class StalledBuildSweeperTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan Grace = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan MaxPending = TimeSpan.FromHours(1);
    private static readonly TimeSpan LeaseTimeout = TimeSpan.FromSeconds(30);

    private readonly string _directory = Directory.CreateTempSubdirectory("wave-sweeper-").FullName;

    [Fact]
    public async Task Stalled_running_and_pending_builds_fail_with_their_reason_and_fresh_ones_are_left_alone()
    {
        var token = TestContext.Current.CancellationToken;
        var clock = new ManualTimeProvider(new DateTimeOffset(2026, 11, 21, 8, 0, 0, TimeSpan.Zero));
        var store = new SqliteBuildStore(Path.Combine(_directory, "wave.db"), new BuildStoreOptions());
        var sweeper = new StalledBuildSweeper(store,
            Options.Create(new StalledBuildOptions { RunningGrace = Grace, MaxPendingTime = MaxPending }),
            Options.Create(new BuildOptions { BuildTimeout = Timeout }), clock, NullLogger<StalledBuildSweeper>.Instance);

        var lostRunning = await CreateAsync(store, 1, clock, running: true);
        var lostPending = await CreateAsync(store, 2, clock, running: false);
        clock.Advance(Timeout + Grace - TimeSpan.FromMinutes(1));
        Assert.Equal(0, await sweeper.SweepAsync(token)); // within timeout + grace: nobody is ended yet

        clock.Advance(MaxPending); // now both old ones are beyond their limits
        var freshRunning = await CreateAsync(store, 3, clock, running: true);
        var freshPending = await CreateAsync(store, 4, clock, running: false);
        clock.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal(2, await sweeper.SweepAsync(token));

        var running = await store.FindAsync(lostRunning, token);
        Assert.Equal(BuildStatus.Completed, running!.Status);
        Assert.False(running.Succeeded);
        Assert.Contains("lost: still RUNNING", running.FailureReason, StringComparison.Ordinal);
        Assert.Contains("beyond the 600 s build timeout", running.FailureReason, StringComparison.Ordinal);
        Assert.Contains("build ended by Wave: lost", (await store.ReadLogAsync(lostRunning, 0, token))!.Text, StringComparison.Ordinal);

        var pending = await store.FindAsync(lostPending, token);
        Assert.Equal(BuildStatus.Completed, pending!.Status);
        Assert.False(pending.Succeeded);
        Assert.Contains("for a builder (limit 1.0 h)", pending.FailureReason, StringComparison.Ordinal);
        Assert.Contains("build ended by Wave: waited", (await store.ReadLogAsync(lostPending, 0, token))!.Text, StringComparison.Ordinal);

        Assert.Equal(BuildStatus.Running, (await store.FindAsync(freshRunning, token))!.Status);
        Assert.Equal(BuildStatus.Pending, (await store.FindAsync(freshPending, token))!.Status);
        Assert.Equal(0, await sweeper.SweepAsync(token)); // ended builds stay ended, once

        // A builder that turns up late for an ended build cannot take it nor overwrite its outcome.
        Assert.Equal(BuildLeaseOutcome.Completed,
            (await store.TryTakeLeaseAsync(lostPending, "late-builder", clock.GetUtcNow(), LeaseTimeout, token)).Outcome);
        Assert.False(await store.TryCompleteAsync(lostRunning, new BuildOutcome(true, 0, "sha256:00", null, TimeSpan.FromSeconds(1)), clock.GetUtcNow(), token));
        Assert.False((await store.FindAsync(lostRunning, token))!.Succeeded);
    }

    private static async Task<string> CreateAsync(SqliteBuildStore store, int n, TimeProvider clock, bool running)
    {
        var token = TestContext.Current.CancellationToken;
        var job = TestJobs.Job(n) with { CreatedAt = clock.GetUtcNow() };
        Assert.True(await store.CreateAsync(BuildRecord.Pending(job, 1), token));
        if (running)
        {
            Assert.True((await store.TryTakeLeaseAsync(job.BuildId, $"builder-{n}", clock.GetUtcNow(), LeaseTimeout, token)).Acquired);
        }
        return job.BuildId;
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
