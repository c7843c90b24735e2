using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

using Npgsql;

using Wave.Builder.Worker;
using Wave.Core.Builds;
using Wave.Core.Persistence;
using Wave.Core.Registry;
using Wave.ServiceDefaults.Postgres;
using Wave.Tests.Builds.EndToEnd;
using Wave.Tests.Builds.Local;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Persistence;

namespace Wave.Tests.Faults;

/// <summary>
/// Builders sharing one build store (a real Postgres) receive the same job, as when the broker hands a job out again
/// after a restart while its build still runs elsewhere. The build's lease decides: one builder runs the real buildah
/// backend, the other waits for it; a lease whose owner stopped renewing it is taken over and the build completes on
/// the new owner; a builder that lost its lease stops its run. Each runner here is a separate builder instance (its
/// own instance id, as each builder process has); the lease timeouts are seconds so that the tests wait little.
/// </summary>
public sealed class BuildRunnerLeaseTests(RegistryFixture registryFixture, PostgresFixture postgresFixture) : IAsyncDisposable
{
    private static readonly BuildLeaseOptions ShortLease = new()
    {
        // Renewed five times per timeout: a loaded test machine may delay a renewal by seconds without losing the lease.
        Timeout = TimeSpan.FromSeconds(5),
        RenewInterval = TimeSpan.FromSeconds(1),
        PollInterval = TimeSpan.FromMilliseconds(200),
    };

    private readonly LocalBuild _build = LocalBuild.Create();
    private readonly List<NpgsqlDataSource> _dataSources = [];
    private readonly ServiceProvider _services = new ServiceCollection().AddHttpClient().BuildServiceProvider();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Two_builders_given_the_same_job_at_once_run_the_backend_once_and_both_acknowledge()
    {
        var registries = await registryFixture.GetAsync();
        var store = await StoreAsync();
        var backend = new CountingBackend(_build.Backend);
        // Longer than the lease timeout: the winner must renew its lease for the loser to keep waiting.
        var job = await RecordAsync(store, $"{registries.Plain.Host}/lease/twice:{LocalBuild.UniqueTag()}",
            $"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN echo run-began && sleep 12 && echo done > /done.txt\n");
        var first = Runner(store, backend);
        var second = Runner(store, backend);

        await Task.WhenAll(
            Task.Run(() => first.RunAsync(new BuildDelivery(job, 1), Token), Token),
            Task.Run(() => second.RunAsync(new BuildDelivery(job, 2), Token), Token));

        var record = await store.FindAsync(job.BuildId, Token);
        var log = (await store.ReadLogAsync(job.BuildId, 0, Token))!.Text;
        Assert.Equal(BuildStatus.Completed, record!.Status);
        Assert.True(record.Succeeded, log);
        Assert.Equal(await PushedImage.DigestAsync(job.TargetImage), record.ImageDigest);
        Assert.Equal(1, backend.Runs);
        Assert.Equal(1, CountOf(log, "run-began\n"));
        Assert.Contains("delivered to another builder too", log, StringComparison.Ordinal);
        Assert.DoesNotContain("build started again", log, StringComparison.Ordinal);
        Assert.Null(await store.FindLeaseAsync(job.BuildId, Token));
    }

    [Fact]
    public async Task A_build_whose_lease_holder_stopped_renewing_is_taken_over_and_completed_by_another_builder()
    {
        var registries = await registryFixture.GetAsync();
        var store = await StoreAsync();
        var backend = new CountingBackend(_build.Backend);
        var job = await RecordAsync(store, $"{registries.Plain.Host}/lease/takeover:{LocalBuild.UniqueTag()}",
            $"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN echo run-began > /began.txt\n");
        // A builder took the build and died before renewing its lease: the build is RUNNING, its heartbeat ages.
        var taken = DateTimeOffset.UtcNow;
        Assert.True((await store.TryTakeLeaseAsync(job.BuildId, "builder-that-died", taken, ShortLease.Timeout, Token)).Acquired);

        var started = DateTimeOffset.UtcNow;
        await Runner(store, backend).RunAsync(new BuildDelivery(job, 2), Token);

        var record = await store.FindAsync(job.BuildId, Token);
        var log = (await store.ReadLogAsync(job.BuildId, 0, Token))!.Text;
        Assert.Equal(BuildStatus.Completed, record!.Status);
        Assert.True(record.Succeeded, log);
        Assert.Equal(1, backend.Runs);
        Assert.True(backend.FirstRunAt - taken >= ShortLease.Timeout, $"the build ran {(backend.FirstRunAt - taken).TotalSeconds:0.0} s after the dead builder's heartbeat, before its lease expired");
        Assert.True(record.StartedAt >= started, "the take-over restarted the build's clock");
        Assert.Contains("delivered to another builder too", log, StringComparison.Ordinal);
        Assert.Contains("build started again: the builder that ran it stopped renewing its lease", log, StringComparison.Ordinal);
        Assert.Null(await store.FindLeaseAsync(job.BuildId, Token));
        Assert.Equal("run-began\n", await PushedImage.ReadFileAsync(job.TargetImage, "amd64", "/began.txt"));
    }

    [Fact]
    public async Task A_builder_that_loses_its_lease_stops_its_run_and_leaves_the_outcome_to_the_new_holder()
    {
        var registries = await registryFixture.GetAsync();
        var store = await StoreAsync();
        var backend = new CountingBackend(_build.Backend);
        var job = await RecordAsync(store, $"{registries.Plain.Host}/lease/lost:{LocalBuild.UniqueTag()}",
            $"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN echo run-began && sleep 120\n");
        var runner = Runner(store, backend);

        var run = Task.Run(() => runner.RunAsync(new BuildDelivery(job, 1), Token), Token);
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while (!(await store.ReadLogAsync(job.BuildId, 0, Token))!.Text.Contains("run-began\n", StringComparison.Ordinal))
        {
            Assert.False(run.IsCompleted, "the run ended before its RUN step started");
            Assert.True(DateTime.UtcNow < deadline, "the build's RUN step did not start");
            await Task.Delay(200, Token);
        }
        Assert.Equal(runner.InstanceId, (await store.FindLeaseAsync(job.BuildId, Token))?.Owner);

        // Another builder takes the lease as if this one's heartbeat had expired (its clock is an hour ahead).
        Assert.True((await store.TryTakeLeaseAsync(job.BuildId, "builder-that-took-over", DateTimeOffset.UtcNow.AddHours(1), ShortLease.Timeout, Token)).Acquired);

        // The next renewal finds the lease gone: the backend is stopped long before its 120 s sleep ends.
        await run.WaitAsync(TimeSpan.FromSeconds(60), Token);
        var record = await store.FindAsync(job.BuildId, Token);
        var log = (await store.ReadLogAsync(job.BuildId, 0, Token))!.Text;
        Assert.True(record!.Status == BuildStatus.Running, log);
        Assert.Equal("builder-that-took-over", (await store.FindLeaseAsync(job.BuildId, Token))?.Owner);
        Assert.Contains("builder builder-that-took-over took the build over; this run stopped", log, StringComparison.Ordinal);
        Assert.Equal("", await _build.ContainersAsync());
    }

    private BuildRunner Runner(IBuildStore store, IBuildBackend backend) => new(store, backend,
        new RemoteLayerFetcher(_services.GetRequiredService<IHttpClientFactory>(), new Wave.Core.Security.NetworkTargetPolicy(Options.Create(new Wave.Core.Security.NetworkTargetOptions())), Options.Create(new BuildOptions())),
        Options.Create(new RegistryOptions()), Options.Create(ShortLease), TimeProvider.System, NullLogger<BuildRunner>.Instance);

    private async Task<PostgresBuildStore> StoreAsync()
    {
        var server = await postgresFixture.GetAsync();
        var dataSource = NpgsqlDataSource.Create(await server.CreateSchemaAsync(Token));
        _dataSources.Add(dataSource);
        return new PostgresBuildStore(dataSource, new BuildStoreOptions());
    }

    private static async Task<BuildJob> RecordAsync(IBuildStore store, string target, string dockerfile)
    {
        var job = LocalBuild.Job(target, dockerfile, timeout: TimeSpan.FromMinutes(4));
        Assert.True(await store.CreateAsync(BuildRecord.Pending(job, 1), Token));
        return job;
    }

    private static int CountOf(string text, string value)
    {
        var count = 0;
        for (var at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }

    public async ValueTask DisposeAsync()
    {
        await _build.DisposeAsync();
        await _services.DisposeAsync();
        foreach (var dataSource in _dataSources)
        {
            await dataSource.DisposeAsync();
        }
    }

    /// <summary>The real buildah backend, counting the builds it was asked to run (it runs them all itself).</summary>
    private sealed class CountingBackend(IBuildBackend inner) : IBuildBackend
    {
        private int _runs;
        private long _firstRunAtTicks;

        public int Runs => Volatile.Read(ref _runs);

        public DateTimeOffset FirstRunAt => new(Interlocked.Read(ref _firstRunAtTicks), TimeSpan.Zero);

        public Task<BuildOutcome> RunAsync(BuildJob job, IReadOnlyDictionary<string, RegistryCredentials> pushCredentials, IBuildLogSink log, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _runs) == 1)
            {
                Interlocked.Exchange(ref _firstRunAtTicks, DateTimeOffset.UtcNow.UtcTicks);
            }
            return inner.RunAsync(job, pushCredentials, log, cancellationToken);
        }
    }
}

/// <summary>The lease's settings as configuration gives them (<c>Wave:Build:Lease</c>), and the ones refused.</summary>
public sealed class BuildLeaseOptionsTests
{
    [Fact]
    public void The_renew_interval_defaults_to_a_third_of_the_timeout_and_the_section_overrides_it()
    {
        var defaults = new BuildLeaseOptions();
        defaults.Validate();
        Assert.Equal(TimeSpan.FromSeconds(30), defaults.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(10), defaults.EffectiveRenewInterval);

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Wave:Build:Lease:Timeout"] = "00:01:00",
            ["Wave:Build:Lease:PollInterval"] = "00:00:05",
        }).Build();
        var bound = new BuildLeaseOptions();
        configuration.GetSection(BuildLeaseOptions.Section).Bind(bound);
        bound.Validate();
        Assert.Equal(TimeSpan.FromSeconds(20), bound.EffectiveRenewInterval);
        Assert.Equal(TimeSpan.FromSeconds(5), bound.PollInterval);
    }

    [Fact]
    public void A_lease_renewed_no_more_often_than_it_expires_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BuildLeaseOptions { Timeout = TimeSpan.FromSeconds(10), RenewInterval = TimeSpan.FromSeconds(10) }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new BuildLeaseOptions { Timeout = TimeSpan.Zero }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new BuildLeaseOptions { PollInterval = TimeSpan.Zero }.Validate());
    }
}
