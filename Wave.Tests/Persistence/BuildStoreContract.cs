using Wave.Core.Builds;
using Wave.Core.Persistence;

namespace Wave.Tests.Persistence;

/// <summary>
/// What every <see cref="IBuildStore"/> does, run against Postgres and SQLite alike (the subclasses say how to get a
/// fresh, empty store).
/// </summary>
public abstract class BuildStoreContract
{
    protected static CancellationToken Token => TestContext.Current.CancellationToken;

    private static readonly DateTimeOffset Created = new(2026, 11, 21, 10, 30, 15, 123, TimeSpan.Zero);

    /// <summary>A new store over a new, empty database; two calls with the same <paramref name="shareWith"/> share the database.</summary>
    protected abstract Task<SqlBuildStore> CreateStoreAsync(BuildStoreOptions? options = null, SqlBuildStore? shareWith = null);

    protected static BuildRecord Record(string containerId = "0123456789abcdef", int attempt = 1, DateTimeOffset? created = null) => new()
    {
        BuildId = $"bd-{containerId}_{attempt}",
        ContainerId = containerId,
        TargetImage = $"localhost:5000/wave/build:{containerId}",
        Dockerfile = "FROM busybox\nRUN echo hello > /hello.txt\n",
        CondaFile = "channels: [conda-forge]\ndependencies: [samtools=1.0]\n",
        Platform = "linux/arm64",
        Format = "docker",
        UserId = "1729",
        UserName = "ada",
        UserEmail = null,
        RequestIp = "10.1.2.3",
        CreatedAt = (created ?? Created).AddTicks(7), // below a microsecond: stores drop it
        Attempt = attempt,
    };

    private static DateTimeOffset Micros(DateTimeOffset value) => new(value.UtcTicks - value.UtcTicks % 10, TimeSpan.Zero);

    [Fact]
    public async Task A_created_record_reads_back_equal_and_a_second_create_changes_nothing()
    {
        var store = await CreateStoreAsync();
        var record = Record();

        Assert.True(await store.CreateAsync(record, Token));
        Assert.False(await store.CreateAsync(record with { TargetImage = "other:tag", Attempt = 9 }, Token));

        var found = await store.FindAsync(record.BuildId, Token);
        Assert.Equal(record with { CreatedAt = Micros(record.CreatedAt) }, found);
        Assert.Equal(BuildStatus.Pending, found!.Status);
        Assert.Null(found.Succeeded);
        Assert.Null(await store.FindAsync("bd-ffffffffffffffff_1", Token));
    }

    [Fact]
    public async Task A_saved_job_reads_back_whole_and_only_a_recorded_build_keeps_one()
    {
        var store = await CreateStoreAsync();
        var job = TestJobs.Job(7) with
        {
            BinaryContextFiles = new Dictionary<string, byte[]> { ["layer-0.tar.gz"] = [1, 2, 3, 255] },
            RemoteLayers = [new RemoteLayer("layer-1.tar.gz", new Uri("https://layers.example/l.tar.gz"), "sha256:" + new string('a', 64), 42)],
        };
        Assert.False(await store.SaveJobAsync(job, Token));
        Assert.True(await store.CreateAsync(BuildRecord.Pending(job, 1), Token));

        Assert.True(await store.SaveJobAsync(job, Token));
        Assert.True(await store.SaveJobAsync(job with { Dockerfile = "FROM busybox:2\n" }, Token));

        var found = await store.FindJobAsync(job.BuildId, Token);
        Assert.NotNull(found);
        Assert.Equal("FROM busybox:2\n", found.Dockerfile);
        Assert.Equal(job.ContextFiles, found.ContextFiles);
        Assert.Equal([1, 2, 3, 255], found.BinaryContextFiles["layer-0.tar.gz"]);
        Assert.Equal(job.RemoteLayers, found.RemoteLayers);
        Assert.Equal(job.Timeout, found.Timeout);
        Assert.Null(await store.FindJobAsync("bd-ffffffffffffffff_1", Token));
    }

    [Fact]
    public async Task The_latest_build_of_a_container_is_the_highest_attempt()
    {
        var store = await CreateStoreAsync();
        await store.CreateAsync(Record(attempt: 1), Token);
        await store.CreateAsync(Record(attempt: 3, created: Created.AddMinutes(-5)), Token);
        await store.CreateAsync(Record(attempt: 2, created: Created.AddMinutes(5)), Token);
        await store.CreateAsync(Record(containerId: "fedcba9876543210", attempt: 7), Token);

        Assert.Equal("bd-0123456789abcdef_3", (await store.FindLatestByContainerIdAsync("0123456789abcdef", Token))?.BuildId);
        Assert.Null(await store.FindLatestByContainerIdAsync("1111111111111111", Token));
    }

    private static readonly TimeSpan LeaseTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Running_is_owned_from_pending_or_after_the_lease_expired_and_never_after_completion()
    {
        var store = await CreateStoreAsync();
        var record = Record();
        await store.CreateAsync(record, Token);
        var started = Created.AddSeconds(1);

        Assert.True((await store.TryTakeLeaseAsync(record.BuildId, "builder-a", started, LeaseTimeout, Token)).Acquired);
        // A second builder (the job delivered twice) does not own the build while the first one's lease is live.
        Assert.Equal(new BuildLease(BuildLeaseOutcome.HeldByAnother, BuildStatus.Running, "builder-a", started),
            await store.TryTakeLeaseAsync(record.BuildId, "builder-b", started, LeaseTimeout, Token));
        var running = await store.FindAsync(record.BuildId, Token);
        Assert.Equal(BuildStatus.Running, running!.Status);
        Assert.Equal(started, running.StartedAt);

        // The first builder died: its job is redelivered, and once its lease expired the next builder owns the build.
        var restarted = started + LeaseTimeout + TimeSpan.FromSeconds(1);
        Assert.True((await store.TryTakeLeaseAsync(record.BuildId, "builder-b", restarted, LeaseTimeout, Token)).Acquired);
        Assert.Equal(restarted, (await store.FindAsync(record.BuildId, Token))!.StartedAt);

        Assert.True(await store.TryCompleteAsync(record.BuildId, new BuildOutcome(true, 0, "sha256:" + new string('a', 64), null, TimeSpan.FromSeconds(3)), Created.AddMinutes(1), Token));
        Assert.Equal(BuildLeaseOutcome.Completed,
            (await store.TryTakeLeaseAsync(record.BuildId, "builder-c", Created.AddMinutes(2), LeaseTimeout, Token)).Outcome);
        Assert.Equal(BuildLeaseOutcome.UnknownBuild,
            (await store.TryTakeLeaseAsync("bd-ffffffffffffffff_1", "builder-c", started, LeaseTimeout, Token)).Outcome);
        Assert.Equal(BuildStatus.Completed, (await store.FindAsync(record.BuildId, Token))!.Status);
    }

    [Fact]
    public async Task A_lease_is_taken_from_pending_renewed_by_its_owner_and_refused_to_others_until_its_heartbeat_expires()
    {
        var store = await CreateStoreAsync();
        var record = Record();
        await store.CreateAsync(record, Token);
        var t0 = Created.AddSeconds(1);

        var taken = await store.TryTakeLeaseAsync(record.BuildId, "builder-a", t0, LeaseTimeout, Token);
        Assert.Equal(new BuildLease(BuildLeaseOutcome.Acquired, BuildStatus.Pending, null, null), taken);
        var running = await store.FindAsync(record.BuildId, Token);
        Assert.Equal(BuildStatus.Running, running!.Status);
        Assert.Equal(t0, running.StartedAt);
        Assert.Equal(new BuildLeaseHolder("builder-a", t0), await store.FindLeaseAsync(record.BuildId, Token));

        // Another builder is refused while the owner's heartbeat is fresh, and told who holds it.
        Assert.Equal(new BuildLease(BuildLeaseOutcome.HeldByAnother, BuildStatus.Running, "builder-a", t0),
            await store.TryTakeLeaseAsync(record.BuildId, "builder-b", t0.AddSeconds(10), LeaseTimeout, Token));

        // The owner renews: the heartbeat moves, the start time stays.
        Assert.Equal(new BuildLease(BuildLeaseOutcome.Acquired, BuildStatus.Running, "builder-a", t0),
            await store.TryTakeLeaseAsync(record.BuildId, "builder-a", t0.AddSeconds(20), LeaseTimeout, Token));
        Assert.Equal(new BuildLeaseHolder("builder-a", t0.AddSeconds(20)), await store.FindLeaseAsync(record.BuildId, Token));
        Assert.Equal(t0, (await store.FindAsync(record.BuildId, Token))!.StartedAt);

        // 30 s after the last heartbeat the lease still holds; beyond it, another builder takes the build over.
        Assert.Equal(BuildLeaseOutcome.HeldByAnother,
            (await store.TryTakeLeaseAsync(record.BuildId, "builder-b", t0.AddSeconds(50), LeaseTimeout, Token)).Outcome);
        var takenOver = await store.TryTakeLeaseAsync(record.BuildId, "builder-b", t0.AddSeconds(51), LeaseTimeout, Token);
        Assert.Equal(new BuildLease(BuildLeaseOutcome.Acquired, BuildStatus.Running, "builder-a", t0.AddSeconds(20)), takenOver);
        Assert.Equal(new BuildLeaseHolder("builder-b", t0.AddSeconds(51)), await store.FindLeaseAsync(record.BuildId, Token));
        Assert.Equal(t0.AddSeconds(51), (await store.FindAsync(record.BuildId, Token))!.StartedAt);

        // The old owner comes back: it can neither renew nor complete; the new owner completes, once, and the lease goes.
        Assert.Equal(new BuildLease(BuildLeaseOutcome.HeldByAnother, BuildStatus.Running, "builder-b", t0.AddSeconds(51)),
            await store.TryTakeLeaseAsync(record.BuildId, "builder-a", t0.AddSeconds(52), LeaseTimeout, Token));
        var outcome = new BuildOutcome(true, 0, "sha256:" + new string('c', 64), null, TimeSpan.FromSeconds(9));
        Assert.False(await store.TryCompleteAsync(record.BuildId, "builder-a", outcome with { ExitCode = 7 }, t0.AddSeconds(60), Token));
        Assert.True(await store.TryCompleteAsync(record.BuildId, "builder-b", outcome, t0.AddSeconds(60), Token));
        Assert.False(await store.TryCompleteAsync(record.BuildId, "builder-b", outcome, t0.AddSeconds(61), Token));
        var completed = await store.FindAsync(record.BuildId, Token);
        Assert.Equal(BuildStatus.Completed, completed!.Status);
        Assert.Equal(0, completed.ExitCode);
        Assert.Null(await store.FindLeaseAsync(record.BuildId, Token));

        // Nothing is leased once completed, nor for an unknown build, however late.
        Assert.Equal(BuildLeaseOutcome.Completed,
            (await store.TryTakeLeaseAsync(record.BuildId, "builder-c", t0.AddHours(1), LeaseTimeout, Token)).Outcome);
        Assert.Equal(BuildLeaseOutcome.UnknownBuild,
            (await store.TryTakeLeaseAsync("bd-ffffffffffffffff_1", "builder-c", t0, LeaseTimeout, Token)).Outcome);
        Assert.Null(await store.FindLeaseAsync("bd-ffffffffffffffff_1", Token));
    }

    [Fact]
    public async Task A_released_lease_is_taken_at_once_and_only_its_owner_releases_it()
    {
        var store = await CreateStoreAsync();
        var record = Record();
        await store.CreateAsync(record, Token);
        var t0 = Created.AddSeconds(1);
        Assert.True((await store.TryTakeLeaseAsync(record.BuildId, "builder-a", t0, LeaseTimeout, Token)).Acquired);

        Assert.False(await store.ReleaseLeaseAsync(record.BuildId, "builder-b", Token));
        Assert.Equal("builder-a", (await store.FindLeaseAsync(record.BuildId, Token))?.Owner);
        Assert.True(await store.ReleaseLeaseAsync(record.BuildId, "builder-a", Token));
        Assert.False(await store.ReleaseLeaseAsync(record.BuildId, "builder-a", Token));
        Assert.Null(await store.FindLeaseAsync(record.BuildId, Token));
        Assert.Equal(BuildStatus.Running, (await store.FindAsync(record.BuildId, Token))!.Status);

        // Released, the build is still RUNNING; the next taker gets it without waiting for an expiry.
        Assert.Equal(new BuildLease(BuildLeaseOutcome.Acquired, BuildStatus.Running, null, null),
            await store.TryTakeLeaseAsync(record.BuildId, "builder-b", t0.AddSeconds(1), LeaseTimeout, Token));

        // A completion without an owner (the stalled-build sweeper, a restart without a saved job) ends the lease too.
        Assert.True(await store.TryCompleteAsync(record.BuildId, new BuildOutcome(false, null, null, "lost", TimeSpan.Zero), t0.AddSeconds(2), Token));
        Assert.Null(await store.FindLeaseAsync(record.BuildId, Token));
    }

    [Fact]
    public async Task Of_ten_builders_racing_for_one_lease_exactly_one_gets_it()
    {
        var store = await CreateStoreAsync();
        var record = Record();
        await store.CreateAsync(record, Token);
        await store.MigrateAsync(Token);

        using var start = new ManualResetEventSlim();
        var takers = Enumerable.Range(1, 10).Select(n => Task.Run(async () =>
        {
            start.Wait(Token);
            var lease = await store.TryTakeLeaseAsync(record.BuildId, $"builder-{n}", Created.AddSeconds(1), LeaseTimeout, Token);
            return (owner: $"builder-{n}", lease);
        }, Token)).ToList();
        start.Set();
        var results = await Task.WhenAll(takers);

        var winner = Assert.Single(results, r => r.lease.Acquired);
        Assert.Equal(BuildStatus.Pending, winner.lease.Status);
        Assert.All(results.Where(r => r != winner), r => Assert.Equal(new BuildLease(BuildLeaseOutcome.HeldByAnother, BuildStatus.Running, winner.owner, Created.AddSeconds(1)), r.lease));
        Assert.Equal(winner.owner, (await store.FindLeaseAsync(record.BuildId, Token))?.Owner);
    }

    [Fact]
    public async Task Completion_happens_once_and_keeps_the_first_outcome()
    {
        var store = await CreateStoreAsync();
        var record = Record();
        await store.CreateAsync(record, Token);
        var completed = Created.AddMinutes(2);

        Assert.True(await store.TryCompleteAsync(record.BuildId, new BuildOutcome(false, 2, null, "exit code 2", TimeSpan.FromMilliseconds(1500)), completed, Token));
        Assert.False(await store.TryCompleteAsync(record.BuildId, new BuildOutcome(true, 0, "sha256:" + new string('b', 64), null, TimeSpan.FromSeconds(1)), completed.AddSeconds(1), Token));
        Assert.False(await store.TryCompleteAsync("bd-ffffffffffffffff_1", new BuildOutcome(true, 0, null, null, TimeSpan.Zero), completed, Token));

        var found = await store.FindAsync(record.BuildId, Token);
        Assert.Equal(BuildStatus.Completed, found!.Status);
        Assert.False(found.Succeeded);
        Assert.Equal(2, found.ExitCode);
        Assert.Equal("exit code 2", found.FailureReason);
        Assert.Null(found.ImageDigest);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), found.Duration);
        Assert.Equal(completed, found.CompletedAt);
    }

    [Fact]
    public async Task Of_twenty_concurrent_completers_exactly_one_wins_and_its_outcome_is_the_one_stored()
    {
        var store = await CreateStoreAsync();
        var record = Record();
        await store.CreateAsync(record, Token);

        using var start = new ManualResetEventSlim();
        var completers = Enumerable.Range(1, 20).Select(exitCode => Task.Run(async () =>
        {
            start.Wait(Token);
            var won = await store.TryCompleteAsync(record.BuildId,
                new BuildOutcome(false, exitCode, null, $"exit code {exitCode}", TimeSpan.FromSeconds(exitCode)), Created.AddMinutes(1), Token);
            return (exitCode, won);
        }, Token)).ToList();
        start.Set();
        var results = await Task.WhenAll(completers);

        var winner = Assert.Single(results, r => r.won);
        var found = await store.FindAsync(record.BuildId, Token);
        Assert.Equal(winner.exitCode, found!.ExitCode);
        Assert.Equal($"exit code {winner.exitCode}", found.FailureReason);
    }

    [Fact]
    public async Task Logs_are_appended_and_read_whole_or_from_an_offset_while_the_build_runs()
    {
        var store = await CreateStoreAsync();
        var record = Record();
        await store.CreateAsync(record, Token);
        Assert.True((await store.TryTakeLeaseAsync(record.BuildId, "builder-a", Created, LeaseTimeout, Token)).Acquired);

        Assert.Equal(new BuildLogSlice("", 0, 0, false), await store.ReadLogAsync(record.BuildId, 0, Token));
        Assert.True(await store.AppendLogAsync(record.BuildId, "STEP 1/2: FROM busybox\n", Token));
        Assert.True(await store.AppendLogAsync(record.BuildId, "", Token));
        Assert.True(await store.AppendLogAsync(record.BuildId, "STEP 2/2: RUN echo héllo ☃\n", Token));

        var whole = await store.ReadLogAsync(record.BuildId, 0, Token);
        const string expected = "STEP 1/2: FROM busybox\nSTEP 2/2: RUN echo héllo ☃\n";
        Assert.Equal(new BuildLogSlice(expected, 0, expected.Length, false), whole);

        var tail = await store.ReadLogAsync(record.BuildId, 10, Token);
        Assert.Equal(expected[10..], tail!.Text);
        Assert.Equal(expected.Length, tail.NextOffset);

        Assert.True(await store.AppendLogAsync(record.BuildId, "done\n", Token));
        var next = await store.ReadLogAsync(record.BuildId, tail.NextOffset, Token);
        Assert.Equal(new BuildLogSlice("done\n", expected.Length, expected.Length + 5, false), next);

        var beyond = await store.ReadLogAsync(record.BuildId, 10_000, Token);
        Assert.Equal("", beyond!.Text);
        Assert.Equal(10_000, beyond.NextOffset);

        Assert.False(await store.AppendLogAsync("bd-ffffffffffffffff_1", "lost", Token));
        Assert.Null(await store.ReadLogAsync("bd-ffffffffffffffff_1", 0, Token));
    }

    [Fact]
    public async Task A_log_stops_at_its_size_cap_and_says_it_was_truncated()
    {
        var store = await CreateStoreAsync(new BuildStoreOptions { MaxLogLength = 10 });
        var record = Record();
        await store.CreateAsync(record, Token);

        await store.AppendLogAsync(record.BuildId, "12345678", Token);
        Assert.False((await store.ReadLogAsync(record.BuildId, 0, Token))!.Truncated);
        await store.AppendLogAsync(record.BuildId, "abcdef", Token);
        await store.AppendLogAsync(record.BuildId, "more", Token);

        Assert.Equal(new BuildLogSlice("12345678ab", 0, 10, true), await store.ReadLogAsync(record.BuildId, 0, Token));
    }

    [Fact]
    public async Task Concurrent_appends_each_land_whole_and_in_one_sequence()
    {
        var store = await CreateStoreAsync();
        var record = Record();
        await store.CreateAsync(record, Token);

        var lines = Enumerable.Range(0, 20).Select(i => $"line {i:00} of the build\n").ToList();
        await Task.WhenAll(lines.Select(line => Task.Run(() => store.AppendLogAsync(record.BuildId, line, Token), Token)));

        var log = (await store.ReadLogAsync(record.BuildId, 0, Token))!.Text;
        Assert.Equal(lines.Sum(l => l.Length), log.Length);
        Assert.Equal(lines.Order(StringComparer.Ordinal), log.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l + "\n").Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_conda_lock_is_kept_per_build()
    {
        var store = await CreateStoreAsync();
        var record = Record();
        await store.CreateAsync(record, Token);

        Assert.Null(await store.GetCondaLockAsync(record.BuildId, Token));
        Assert.True(await store.SetCondaLockAsync(record.BuildId, "@EXPLICIT\nhttps://conda.example/samtools-1.0.tar.bz2\n", Token));
        Assert.Equal("@EXPLICIT\nhttps://conda.example/samtools-1.0.tar.bz2\n", await store.GetCondaLockAsync(record.BuildId, Token));
        Assert.False(await store.SetCondaLockAsync("bd-ffffffffffffffff_1", "x", Token));
        Assert.Null(await store.GetCondaLockAsync("bd-ffffffffffffffff_1", Token));
    }

    [Fact]
    public async Task Unfinished_builds_are_listed_oldest_first()
    {
        var store = await CreateStoreAsync();
        await store.CreateAsync(Record("aaaaaaaaaaaaaaaa", created: Created.AddMinutes(2)), Token);
        await store.CreateAsync(Record("bbbbbbbbbbbbbbbb", created: Created.AddMinutes(1)), Token);
        await store.CreateAsync(Record("cccccccccccccccc", created: Created), Token);
        Assert.True((await store.TryTakeLeaseAsync("bd-bbbbbbbbbbbbbbbb_1", "builder-a", Created, LeaseTimeout, Token)).Acquired);
        await store.TryCompleteAsync("bd-cccccccccccccccc_1", new BuildOutcome(true, 0, null, null, TimeSpan.Zero), Created, Token);

        var unfinished = await store.ListUnfinishedAsync(Token);

        Assert.Equal(["bd-bbbbbbbbbbbbbbbb_1", "bd-aaaaaaaaaaaaaaaa_1"], unfinished.Select(r => r.BuildId));
    }

    [Fact]
    public async Task Migrations_are_applied_once_however_many_stores_start_together()
    {
        var first = await CreateStoreAsync();
        var others = new List<SqlBuildStore>();
        for (var i = 0; i < 3; i++)
        {
            others.Add(await CreateStoreAsync(shareWith: first));
        }

        var applied = await Task.WhenAll(new[] { first }.Concat(others).Select(s => Task.Run(() => s.MigrateAsync(Token), Token)));

        Assert.Equal(1, applied.Count(n => n > 0));
        Assert.Equal(0, await first.MigrateAsync(Token));
        Assert.Equal(await CountMigrationRowsAsync(first), applied.Sum());
        Assert.True(await others[0].CreateAsync(Record(), Token));
    }

    /// <summary>Rows in schema_migrations.</summary>
    protected abstract Task<int> CountMigrationRowsAsync(SqlBuildStore store);
}
