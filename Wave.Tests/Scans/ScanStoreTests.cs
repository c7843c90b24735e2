using System.Text;

using Npgsql;

using Wave.Core.Persistence;
using Wave.Core.Scans;
using Wave.ServiceDefaults.Postgres;
using Wave.ServiceDefaults.Sqlite;
using Wave.Tests.Infrastructure.Persistence;

namespace Wave.Tests.Scans;

/// <summary>The scan store's contract, run against the embedded SQLite file and a real Postgres.</summary>
public abstract class ScanStoreContract
{
    protected static CancellationToken Token => TestContext.Current.CancellationToken;

    protected abstract Task<IScanStore> CreateStoreAsync();

    private static readonly DateTimeOffset Start = new(2024, 3, 1, 12, 0, 0, 123, TimeSpan.Zero);

    private static ScanRecord Pending(int attempt = 1) => new()
    {
        Id = ScanId.Format("00112233445566ff", attempt),
        Key = "00112233445566ff",
        Attempt = attempt,
        BuildId = "bd-0123456789abcdef_1",
        RequestId = "3f0c1d2e3f4a5b6c7d8e9f01",
        ContainerImage = "localhost:5000/tools/analysis:1.0@sha256:0f3ad8e1c2b4a6d8e0f1a3c5b7d9e1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5",
        Platform = "linux/amd64",
        StartTime = Start,
    };

    [Fact]
    public async Task A_pending_scan_is_recorded_once_and_found_by_id_and_key()
    {
        var store = await CreateStoreAsync();
        Assert.True(await store.CreateAsync(Pending(), "a", Start, Token));
        Assert.False(await store.CreateAsync(Pending(), "b", Start, Token)); // the same attempt, by a concurrent request
        Assert.True(await store.CreateAsync(Pending(2), "a", Start, Token));

        var found = await store.FindAsync(Pending().Id, Token);
        Assert.Equal(Pending() with { Vulnerabilities = found!.Vulnerabilities, Summary = found.Summary }, found);
        Assert.Equal(ScanStatus.Pending, found.Status);
        Assert.Null(found.Succeeded);
        Assert.Equal(2, (await store.FindLatestAsync(Pending().Key, Token))!.Attempt);
        Assert.Null(await store.FindAsync("sc-ffffffffffffffff_1", Token));
        Assert.Null(await store.FindAsync("not an id", Token));
        Assert.Null(await store.ReadSpdxAsync(Pending().Id, Token));
    }

    [Fact]
    public async Task A_build_or_a_mirror_finds_the_latest_scan_started_for_it()
    {
        var store = await CreateStoreAsync();
        var mirrored = Pending() with { Id = ScanId.Format("ffeeddccbbaa9988", 1), Key = "ffeeddccbbaa9988", BuildId = null, MirrorId = "mr-0123456789abcdef_1" };
        Assert.True(await store.CreateAsync(mirrored, "a", Start, Token));
        Assert.Null(await store.FindLatestOfAsync(new ScanOrigin(BuildId: "bd-0123456789abcdef_1"), Token));
        Assert.True(await store.CreateAsync(Pending(), "a", Start, Token));
        // A second attempt for the same build, a second later: that one is its scan now.
        Assert.True(await store.CreateAsync(Pending(2) with { StartTime = Start.AddSeconds(1) }, "a", Start, Token));
        // Another build of the same image is not this build's scan.
        Assert.True(await store.CreateAsync(Pending(3) with { BuildId = "bd-0123456789abcdef_2", StartTime = Start.AddSeconds(2) }, "a", Start, Token));

        Assert.Equal(Pending(2).Id, (await store.FindLatestOfAsync(new ScanOrigin(BuildId: "bd-0123456789abcdef_1"), Token))?.Id);
        Assert.Equal(Pending(3).Id, (await store.FindLatestOfAsync(new ScanOrigin(BuildId: "bd-0123456789abcdef_2"), Token))?.Id);
        Assert.Equal(mirrored.Id, (await store.FindLatestOfAsync(new ScanOrigin(MirrorId: "mr-0123456789abcdef_1"), Token))?.Id);
        Assert.Null(await store.FindLatestOfAsync(new ScanOrigin(MirrorId: "mr-0123456789abcdef_2"), Token));
        await Assert.ThrowsAsync<ArgumentException>(() => store.FindLatestOfAsync(new ScanOrigin(RequestId: "3f0c1d2e3f4a5b6c7d8e9f01"), Token));
    }

    [Fact]
    public async Task Only_the_lease_holder_records_the_outcome_and_a_stale_lease_is_taken_over()
    {
        var store = await CreateStoreAsync();
        await store.CreateAsync(Pending(), "dead", Start, Token);
        var now = Start.AddMinutes(1);
        // The holder's heartbeat is recent: nobody else takes it.
        Assert.False(await store.TryTakeLeaseAsync(Pending().Id, "other", now, Start.AddSeconds(-1), Token));
        Assert.Empty(await store.FindAbandonedAsync(Start.AddSeconds(-1), 10, Token));
        // Older than the lease timeout: taken over.
        Assert.Equal([Pending().Id], (await store.FindAbandonedAsync(Start.AddSeconds(1), 10, Token)).Select(s => s.Id));
        Assert.True(await store.TryTakeLeaseAsync(Pending().Id, "other", now, Start.AddSeconds(1), Token));
        Assert.True(await store.TryTakeLeaseAsync(Pending().Id, "other", now.AddSeconds(5), now, Token)); // renewal
        Assert.Empty(await store.FindAbandonedAsync(now, 10, Token));

        var spdx = Encoding.UTF8.GetBytes("{\"spdxVersion\": \"SPDX-2.3\"}\n");
        var outcome = new ScanOutcome(ScanStatus.Succeeded, [new ScanVulnerability("CVE-1", "HIGH", "t", "p", "1", "2", "https://example.org/CVE-1")],
            new Dictionary<string, int> { ["HIGH"] = 3 }, 42, spdx, "[wave] done\n", 0);
        Assert.False(await store.CompleteAsync(Pending().Id, "dead", outcome, TimeSpan.FromSeconds(2), Token)); // lost its lease
        Assert.True(await store.CompleteAsync(Pending().Id, "other", outcome, TimeSpan.FromMilliseconds(2345), Token));
        Assert.False(await store.CompleteAsync(Pending().Id, "other", ScanOutcome.Failure("again"), TimeSpan.Zero, Token)); // once only
        Assert.False(await store.TryTakeLeaseAsync(Pending().Id, "other", now, now, Token)); // a done scan has no lease

        var done = (await store.FindAsync(Pending().Id, Token))!;
        Assert.Equal((ScanStatus.Succeeded, true, TimeSpan.FromMilliseconds(2345), 42, 0, "[wave] done\n"),
            (done.Status, done.Succeeded, done.Duration, done.PackageCount, done.ExitCode, done.Logs));
        Assert.Equal(outcome.Vulnerabilities, done.Vulnerabilities);
        Assert.Equal(3, done.Summary["HIGH"]);
        Assert.Equal(spdx, await store.ReadSpdxAsync(Pending().Id, Token));
    }
}

public sealed class SqliteScanStoreTests : ScanStoreContract
{
    protected override Task<IScanStore> CreateStoreAsync()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("wave-scans-").FullName, "wave.db");
        return Task.FromResult<IScanStore>(new SqliteScanStore(new SqliteBuildStore(path, new BuildStoreOptions())));
    }
}

public sealed class PostgresScanStoreTests(PostgresFixture postgres) : ScanStoreContract, IAsyncDisposable
{
    private readonly List<NpgsqlDataSource> _dataSources = [];

    protected override async Task<IScanStore> CreateStoreAsync()
    {
        var dataSource = NpgsqlDataSource.Create(await (await postgres.GetAsync()).CreateSchemaAsync(Token));
        _dataSources.Add(dataSource);
        return new PostgresScanStore(dataSource, new PostgresBuildStore(dataSource, new BuildStoreOptions()));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var dataSource in _dataSources)
        {
            await dataSource.DisposeAsync();
        }
    }
}
