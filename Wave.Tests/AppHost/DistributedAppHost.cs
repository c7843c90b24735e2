using System.Collections.Concurrent;

using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;

using Microsoft.Extensions.DependencyInjection;

using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.AppHost;

/// <summary>
/// The AppHost's distributed topology, started through Aspire.Hosting.Testing exactly as <c>dotnet run</c> would run
/// it (Redis, Postgres and RabbitMQ from their server binaries, the three services as projects, Aspire's dashboard),
/// on free loopback ports, with its data in a temporary folder. The services get the test registries' credentials and
/// build into the plain test registry. Every resource carries a marker in its environment, and the processes DCP
/// started are recorded, so that <see cref="StopAsync"/> can tell whether anything the run started is still alive.
/// </summary>
public sealed class DistributedAppHost : IAsyncDisposable
{
    /// <summary>Every resource of the topology, each of which must end up running and healthy.</summary>
    public static readonly string[] Resources = ["redis", "postgres", "wave", "rabbitmq", "rabbitmq-epmd", "registry-proxy", "api", "builder"];

    private static readonly TimeSpan HealthyTimeout = TimeSpan.FromMinutes(4);

    private readonly CancellationTokenSource _watching = new();
    private readonly ConcurrentQueue<(long Sequence, string Resource, string? State, string? Health)> _events = new();
    private readonly HashSet<ProcessEntry> _started = [];
    private readonly string _work;
    private Task? _watcher;
    private bool _stopped;

    private DistributedAppHost(DistributedApplication app, string work, string marker, string browserToken)
    {
        App = app;
        _work = work;
        Marker = marker;
        BrowserToken = browserToken;
    }

    public DistributedApplication App { get; }

    /// <summary><c>NAME=value</c> in the environment of every resource of this run, and of whatever they start.</summary>
    public string Marker { get; }

    /// <summary>
    /// Where the dashboard answers: behind DCP's proxy on a port Aspire's testing builder randomizes, as it does every
    /// proxied port (so that runs side by side do not collide).
    /// </summary>
    public string DashboardUrl => App.GetEndpoint("aspire-dashboard", "http").ToString().TrimEnd('/');

    public string BrowserToken { get; }

    public string DataDirectory => Path.Combine(_work, "data");

    public Uri Endpoint(string resource) => App.GetEndpoint(resource, "http");

    public HttpClient Client(string resource) => new() { BaseAddress = Endpoint(resource), Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>The resource events seen, in the order Aspire published them: state and health per resource.</summary>
    public IReadOnlyList<(long Sequence, string Resource, string? State, string? Health)> Events => [.. _events];

    public static async Task<DistributedAppHost> StartAsync(TestRegistries registries)
    {
        Requirements.Binary("redis-server", "redis-server");
        Requirements.Binary("initdb", "postgresql");
        Requirements.Binary("rabbitmq-server", "rabbitmq-server");
        Requirements.Binary("buildah", "buildah");
        var cancellation = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("wave-apphost-").FullName;
        // Postgres runs as the postgres user (this suite runs as root), which must be able to walk down to its cluster.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(work, (UnixFileMode)0b111_101_101);
        }
        var marker = $"WAVE_APPHOST_TEST_RUN={Guid.NewGuid():N}";
        var browserToken = Guid.NewGuid().ToString("N");
        string[] args =
        [
            "--Wave:Topology=distributed",
            "--Wave:BackingServices=executables",
            $"--Wave:DataDirectory={Path.Combine(work, "data")}",
            // The dashboard and its endpoints on ports of this run (the launch profile's are for a developer's machine).
            $"--ASPNETCORE_URLS=http://127.0.0.1:{FreePort.Next()}",
            $"--ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL=http://127.0.0.1:{FreePort.Next()}",
            $"--ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL=http://127.0.0.1:{FreePort.Next()}",
            $"--ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL=http://127.0.0.1:{FreePort.Next()}",
            "--ASPIRE_ALLOW_UNSECURED_TRANSPORT=true",
            $"--ASPIRE_DASHBOARD_FRONTEND_BROWSERTOKEN={browserToken}",
        ];
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Wave_AppHost>(args,
            (options, _) => options.DisableDashboard = false, cancellation);

        var settings = WaveFixture.RegistrySettings(registries);
        settings["Wave:Build:DefaultBuildRepository"] = $"{registries.Plain.Host}/wave/builds";
        settings["Wave:Build:Local:WorkDirectory"] = Path.Combine(work, "builds");
        // Every test client is the anonymous 127.0.0.1.
        settings["Wave:RateLimits:Enabled"] = "false";
        var (markerName, markerValue) = (marker[..marker.IndexOf('=')], marker[(marker.IndexOf('=') + 1)..]);
        foreach (var resource in builder.Resources.OfType<IResourceWithEnvironment>().ToList())
        {
            var resourceBuilder = builder.CreateResourceBuilder(resource).WithEnvironment(markerName, markerValue);
            if (resource is ProjectResource)
            {
                foreach (var (key, value) in settings)
                {
                    resourceBuilder.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value);
                }
            }
        }

        var app = await builder.BuildAsync(cancellation);
        var host = new DistributedAppHost(app, work, marker, browserToken);
        host.Watch();
        try
        {
            await app.StartAsync(cancellation);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            timeout.CancelAfter(HealthyTimeout);
            try
            {
                await Task.WhenAll(Resources.Select(r => app.ResourceNotifications.WaitForResourceHealthyAsync(r, timeout.Token)));
            }
            catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
            {
                throw new TimeoutException($"not every resource was healthy within {HealthyTimeout.TotalMinutes} min: {host.Describe()}");
            }
            host.RecordProcesses();
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    private void Watch()
    {
        long sequence = 0;
        _watcher = Task.Run(async () =>
        {
            try
            {
                await foreach (var update in App.ResourceNotifications.WatchAsync(_watching.Token))
                {
                    _events.Enqueue((Interlocked.Increment(ref sequence), update.Resource.Name, update.Snapshot.State?.Text, update.Snapshot.HealthStatus?.ToString()));
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
    }

    /// <summary>The latest state and health of each resource, for failure messages.</summary>
    public string Describe() => string.Join(", ", Events.GroupBy(e => e.Resource).Select(g => $"{g.Key}={g.Last().State}/{g.Last().Health}"));

    /// <summary>
    /// Notes the processes this run started: DCP (the one that watches this test process), everything below it, and
    /// whatever carries the marker. Called once the topology is up and again before it stops.
    /// </summary>
    public void RecordProcesses()
    {
        var table = ProcessTable.Snapshot();
        foreach (var dcp in table.Where(p => p.CommandLine.Contains($"start-apiserver --monitor {Environment.ProcessId} ", StringComparison.Ordinal)))
        {
            _started.UnionWith(ProcessTable.Tree(table, dcp));
        }
        _started.UnionWith(table.Where(p => ProcessTable.Carries(p.Pid, Marker)));
    }

    /// <summary>
    /// Stops the application as Ctrl+C would and returns what is still alive 30 s later: any process recorded while it
    /// ran, and any process that carries the marker (a daemon a server forked would no longer be below DCP).
    /// </summary>
    public async Task<IReadOnlyList<ProcessEntry>> StopAsync()
    {
        RecordProcesses();
        Assert.NotEmpty(_started);
        await StopAppAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var left = _started.Where(ProcessTable.IsAlive)
                .Union(ProcessTable.Snapshot().Where(p => ProcessTable.Carries(p.Pid, Marker)))
                .Distinct().ToList();
            if (left.Count == 0 || DateTime.UtcNow > deadline)
            {
                return left;
            }
            await Task.Delay(250, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>The processes recorded for this run (a copy).</summary>
    public IReadOnlyList<ProcessEntry> StartedProcesses => [.. _started];

    private async Task StopAppAsync()
    {
        if (_stopped)
        {
            return;
        }
        _stopped = true;
        try
        {
            await App.StopAsync();
        }
        finally
        {
            await _watching.CancelAsync();
            if (_watcher is not null)
            {
                await _watcher;
            }
            await App.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAppAsync();
        _watching.Dispose();
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // buildah's storage holds read-only trees; the temporary folder is left to the system then.
        }
    }
}

/// <summary>One distributed AppHost per test run, started on first use and shared by the tests of the AppHost collection.</summary>
public sealed class DistributedAppHostFixture : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private Task<DistributedAppHost>? _host;

    public Task<DistributedAppHost> GetAsync(TestRegistries registries)
    {
        lock (_gate)
        {
            return _host ??= DistributedAppHost.StartAsync(registries);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is { IsCompletedSuccessfully: true })
        {
            await _host.Result.DisposeAsync();
        }
    }
}

/// <summary>
/// The tests that start an AppHost: run one after another (each start is several processes and seconds of CPU on a
/// machine of two cores), sharing one distributed topology.
/// </summary>
[CollectionDefinition(Name)]
public sealed class AppHostCollection : ICollectionFixture<DistributedAppHostFixture>
{
    public const string Name = "AppHost";
}
