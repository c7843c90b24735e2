using Npgsql;

using Wave.Core.Augmentation;
using Wave.Core.Identity;
using Wave.Core.Persistence;
using Wave.Core.Requests;
using Wave.ServiceDefaults.Postgres;
using Wave.ServiceDefaults.Sqlite;
using Wave.Tests.Infrastructure.Persistence;

namespace Wave.Tests.Records;

/// <summary>The record store's contract, on SQLite and on a real Postgres.</summary>
public sealed class ContainerRecordStoreTests(PostgresFixture postgres) : IAsyncDisposable
{
    private readonly List<NpgsqlDataSource> _dataSources = [];

    public static TheoryData<string> Dialects => ["sqlite", "postgres"];

    private async Task<IContainerRecordStore> CreateAsync(string dialect)
    {
        if (dialect == "sqlite")
        {
            var path = Path.Combine(Directory.CreateTempSubdirectory("wave-records-").FullName, "wave.db");
            return new SqliteContainerRecordStore(new SqliteBuildStore(path, new BuildStoreOptions()));
        }
        var dataSource = NpgsqlDataSource.Create(await (await postgres.GetAsync()).CreateSchemaAsync(TestContext.Current.CancellationToken));
        _dataSources.Add(dataSource);
        return new PostgresContainerRecordStore(dataSource, new PostgresBuildStore(dataSource, new BuildStoreOptions()));
    }

    [Theory]
    [MemberData(nameof(Dialects))]
    public async Task A_record_round_trips_and_is_revoked_and_served_once(string dialect)
    {
        var store = await CreateAsync(dialect);
        var cancellation = TestContext.Current.CancellationToken;
        var created = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero).AddTicks(1234560);
        var record = new ContainerRecord
        {
            Token = ContainerTokens.New(),
            User = new WaveUser("42", "alice", "alice@example.org"),
            WorkspaceId = 7,
            PlatformEndpoint = "https://platform.example.com/api",
            RequestIp = "10.0.0.1",
            SourceImage = "docker.io/library/busybox:latest",
            SourceDigest = "sha256:" + new string('1', 64),
            TargetImage = "wave.example.com/wt/x/library/busybox:latest",
            Platform = "linux/amd64",
            ContainerConfig = new ContainerConfig { Env = ["A=1"], Cmd = ["sh"] },
            CredentialsSource = "configuration",
            CreatedAt = created,
            ExpiresAt = created.AddHours(36),
        };
        Assert.True(await store.CreateAsync(record, cancellation));
        Assert.False(await store.CreateAsync(record with { SourceImage = "other" }, cancellation));

        var found = await store.FindAsync(record.Token, cancellation);
        Assert.NotNull(found);
        Assert.Equal(record.ContainerConfig.Env, found.ContainerConfig!.Env);
        Assert.Equal(record with { ContainerConfig = found.ContainerConfig }, found);

        Assert.True(await store.SetServedDigestAsync(record.Token, "sha256:" + new string('2', 64), cancellation));
        Assert.False(await store.SetServedDigestAsync(record.Token, "sha256:" + new string('3', 64), cancellation));
        var revokedAt = created.AddHours(1);
        Assert.True(await store.MarkRevokedAsync(record.Token, revokedAt, cancellation));
        Assert.True(await store.MarkRevokedAsync(record.Token, revokedAt.AddHours(1), cancellation));
        found = await store.FindAsync(record.Token, cancellation);
        Assert.Equal("sha256:" + new string('2', 64), found!.ServedDigest);
        Assert.Equal(revokedAt, found.RevokedAt);
        Assert.True(found.Revoked);

        var unknown = ContainerTokens.New();
        Assert.Null(await store.FindAsync(unknown, cancellation));
        Assert.False(await store.MarkRevokedAsync(unknown, revokedAt, cancellation));
        Assert.Null(await store.FindAsync("not-a-token", cancellation));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var dataSource in _dataSources)
        {
            await dataSource.DisposeAsync();
        }
    }
}
