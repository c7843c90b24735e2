using Npgsql;

using Wave.Core.Mirrors;
using Wave.Core.Persistence;
using Wave.Core.Requests;
using Wave.ServiceDefaults.Postgres;
using Wave.ServiceDefaults.Sqlite;
using Wave.Tests.Infrastructure.Persistence;

namespace Wave.Tests.Mirrors;

/// <summary>What every <see cref="IMirrorStore"/> does, against SQLite and a real Postgres alike.</summary>
public abstract class MirrorStoreContract
{
    protected static CancellationToken Token => TestContext.Current.CancellationToken;

    private static readonly DateTimeOffset Created = new(2026, 12, 1, 9, 0, 0, 250, TimeSpan.Zero);

    /// <summary>A mirror store over a new, empty database (migrated by its build store on first use).</summary>
    protected abstract Task<IMirrorStore> CreateStoreAsync();

    private static (MirrorRecord Record, MirrorJob Job) Attempt(int attempt = 1, string contentId = "0123456789abcdef")
    {
        var id = MirrorId.Format(contentId, attempt);
        var record = new MirrorRecord
        {
            MirrorId = id,
            ContentId = contentId,
            SourceImage = "docker.io/library/busybox:1.36",
            SourceDigest = "sha256:" + new string('a', 64),
            TargetImage = "quay.io/me/library/busybox:1.36",
            Platform = "linux/arm64",
            UserId = "42",
            UserName = "dana",
            UserEmail = "dana@example.org",
            RequestIp = "10.0.0.1",
            OffsetId = "+02:00",
            CreatedAt = Created.AddTicks(3),
            Attempt = attempt,
        };
        var job = new MirrorJob
        {
            MirrorId = id,
            ContentId = contentId,
            SourceImage = record.SourceImage,
            SourceDigest = record.SourceDigest,
            TargetImage = record.TargetImage,
            TargetCredentials = new SealedCredentials("quay.io", "c2VhbGVk"),
            CreatedAt = Created,
        };
        return (record, job);
    }

    [Fact]
    public async Task A_recorded_attempt_reads_back_with_its_job_and_a_second_insert_changes_nothing()
    {
        var store = await CreateStoreAsync();
        var (record, job) = Attempt();

        Assert.True(await store.CreateAsync(record, job, Token));
        Assert.False(await store.CreateAsync(record with { TargetImage = "other/x:y" }, job, Token));

        Assert.Equal(record with { CreatedAt = Created }, await store.FindAsync(record.MirrorId, Token));
        Assert.Equal(job, await store.FindJobAsync(record.MirrorId, Token));
        Assert.Null(await store.FindAsync(MirrorId.Format("ffffffffffffffff", 1), Token));
        Assert.Equal("", await store.ReadLogAsync(record.MirrorId, Token));
        Assert.Null(await store.ReadLogAsync(MirrorId.Format("ffffffffffffffff", 1), Token));
    }

    [Fact]
    public async Task The_latest_attempt_of_a_content_is_found_and_unfinished_ones_are_listed()
    {
        var store = await CreateStoreAsync();
        var (first, firstJob) = Attempt(1);
        var (second, secondJob) = Attempt(2);
        await store.CreateAsync(first, firstJob, Token);
        await store.CreateAsync(second, secondJob, Token);
        Assert.True(await store.TryCompleteAsync(first.MirrorId, null, new MirrorOutcome(false, null, "refused", TimeSpan.FromSeconds(1), MirrorCounts.None), Created, Token));

        Assert.Equal(second.MirrorId, (await store.FindLatestByContentIdAsync(first.ContentId, Token))?.MirrorId);
        Assert.Null(await store.FindLatestByContentIdAsync("ffffffffffffffff", Token));
        Assert.Equal([second.MirrorId], (await store.ListUnfinishedAsync(Token)).Select(r => r.MirrorId));
    }

    [Fact]
    public async Task A_lease_is_held_by_one_builder_until_it_expires_and_only_its_holder_completes_once()
    {
        var store = await CreateStoreAsync();
        var (record, job) = Attempt();
        await store.CreateAsync(record, job, Token);
        var now = Created.AddMinutes(1);
        var timeout = TimeSpan.FromSeconds(30);

        var first = await store.TryTakeLeaseAsync(record.MirrorId, "builder-a", now, timeout, Token);
        Assert.Equal(BuildLeaseOutcome.Acquired, first.Outcome);
        Assert.Equal(BuildStatus.Pending, first.Status);
        Assert.Equal(BuildLeaseOutcome.HeldByAnother, (await store.TryTakeLeaseAsync(record.MirrorId, "builder-b", now.AddSeconds(10), timeout, Token)).Outcome);
        // builder-a stops renewing: after the timeout builder-b takes the copy over, and sees it was RUNNING under builder-a.
        var takeover = await store.TryTakeLeaseAsync(record.MirrorId, "builder-b", now.AddSeconds(31), timeout, Token);
        Assert.Equal((BuildLeaseOutcome.Acquired, BuildStatus.Running, "builder-a"), (takeover.Outcome, takeover.Status, takeover.Owner));

        var outcome = new MirrorOutcome(true, record.SourceDigest, null, TimeSpan.FromMilliseconds(1500), new MirrorCounts(3, 2, 12345, 4));
        Assert.False(await store.TryCompleteAsync(record.MirrorId, "builder-a", outcome, now.AddSeconds(40), Token));
        Assert.True(await store.TryCompleteAsync(record.MirrorId, "builder-b", outcome, now.AddSeconds(40), Token));
        Assert.False(await store.TryCompleteAsync(record.MirrorId, null, outcome with { Succeeded = false }, now.AddSeconds(41), Token));

        var done = await store.FindAsync(record.MirrorId, Token);
        Assert.True(done!.Completed);
        Assert.True(done.Succeeded);
        Assert.Equal(record.SourceDigest, done.Digest);
        Assert.Equal(new MirrorCounts(3, 2, 12345, 4), done.Counts);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), done.Duration);
        Assert.Equal(now.AddSeconds(31), done.StartedAt);
        Assert.Equal(BuildLeaseOutcome.Completed, (await store.TryTakeLeaseAsync(record.MirrorId, "builder-c", now.AddHours(1), timeout, Token)).Outcome);
        Assert.Equal(BuildLeaseOutcome.UnknownBuild, (await store.TryTakeLeaseAsync(MirrorId.Format("ffffffffffffffff", 1), "x", now, timeout, Token)).Outcome);
    }

    [Fact]
    public async Task A_released_lease_is_free_at_once_for_the_next_delivery()
    {
        var store = await CreateStoreAsync();
        var (record, job) = Attempt();
        await store.CreateAsync(record, job, Token);
        await store.TryTakeLeaseAsync(record.MirrorId, "builder-a", Created, TimeSpan.FromMinutes(5), Token);

        Assert.False(await store.ReleaseLeaseAsync(record.MirrorId, "builder-b", Token));
        Assert.True(await store.ReleaseLeaseAsync(record.MirrorId, "builder-a", Token));
        Assert.Equal(BuildLeaseOutcome.Acquired, (await store.TryTakeLeaseAsync(record.MirrorId, "builder-b", Created.AddSeconds(1), TimeSpan.FromMinutes(5), Token)).Outcome);
    }

    [Fact]
    public async Task The_log_grows_in_order_and_stops_at_its_cap()
    {
        var store = await CreateStoreAsync();
        var (record, job) = Attempt();
        await store.CreateAsync(record, job, Token);

        Assert.True(await store.AppendLogAsync(record.MirrorId, "one\n", Token));
        Assert.True(await store.AppendLogAsync(record.MirrorId, "two\n", Token));
        Assert.Equal("one\ntwo\n", await store.ReadLogAsync(record.MirrorId, Token));
        Assert.False(await store.AppendLogAsync(MirrorId.Format("ffffffffffffffff", 1), "x", Token));

        await store.AppendLogAsync(record.MirrorId, new string('x', SqlMirrorStore.MaxLogLength), Token);
        await store.AppendLogAsync(record.MirrorId, "lost-line\n", Token);
        var log = await store.ReadLogAsync(record.MirrorId, Token);
        Assert.StartsWith("one\ntwo\nxxx", log, StringComparison.Ordinal);
        Assert.DoesNotContain("lost-line", log, StringComparison.Ordinal);
        Assert.EndsWith("later lines were dropped ---\n", log, StringComparison.Ordinal);
    }
}

public sealed class SqliteMirrorStoreTests : MirrorStoreContract, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("wave-sqlite-mirrors-").FullName;

    protected override Task<IMirrorStore> CreateStoreAsync() =>
        Task.FromResult<IMirrorStore>(new SqliteMirrorStore(new SqliteBuildStore(Path.Combine(_directory, Guid.NewGuid().ToString("N"), "wave.db"), new BuildStoreOptions())));

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

public sealed class PostgresMirrorStoreTests(PostgresFixture postgres) : MirrorStoreContract, IAsyncDisposable
{
    private readonly List<NpgsqlDataSource> _dataSources = [];

    protected override async Task<IMirrorStore> CreateStoreAsync()
    {
        var server = await postgres.GetAsync();
        var dataSource = NpgsqlDataSource.Create(await server.CreateSchemaAsync(Token));
        _dataSources.Add(dataSource);
        return new PostgresMirrorStore(dataSource, new PostgresBuildStore(dataSource, new BuildStoreOptions()));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var dataSource in _dataSources)
        {
            await dataSource.DisposeAsync();
        }
    }
}
