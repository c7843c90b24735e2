using System.Globalization;

using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

using Wave.AppHost.Model;

namespace Wave.AppHost.Orchestration;

/// <summary>
/// Run mode: provisions the backing services, then starts the projects as processes in dependency order with the
/// environment Aspire gives them, each waited for on /health. On shutdown it stops the projects (last started first),
/// then the backing services; their data stays in the data folder.
/// </summary>
public sealed class Orchestrator(
    ApplicationModel model,
    AppHostMode.Distributed mode,
    ResourceBoard board,
    IConfiguration configuration,
    IServer server,
    IHostApplicationLifetime lifetime,
    ILogger<Orchestrator> logger) : BackgroundService, IHostedLifecycleService
{
    private static readonly TimeSpan HealthTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(15);

    private readonly List<(string Name, ProvisionedService Service)> _backing = [];
    private readonly List<(string Name, ManagedProcess Process)> _projects = [];
    private readonly Dictionary<string, (ProjectResource Project, Dictionary<string, string?> Environment)> _launches = new(StringComparer.Ordinal);
    private const int MaxRestarts = 5;
    private readonly Lock _gate = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>Completes when every resource is up (true) or the start failed (false).</summary>
    public TaskCompletionSource<bool> Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var backing in model.BackingResources)
        {
            board.Add(backing.Name, "backing");
        }
        foreach (var project in model.ProjectsInStartOrder())
        {
            board.Add(project.Name, "project");
        }
        if (!await WaitForStartedAsync(stoppingToken))
        {
            return;
        }
        try
        {
            Directory.CreateDirectory(mode.DataDirectory);
            var provisioner = new BackingServiceProvisioner(configuration, mode.DataDirectory);
            // Every resource starts as soon as what it references is ready: the backing services side by side
            // (RabbitMQ's first boot alone takes seconds), each project once its references are up.
            var ready = new Dictionary<string, Task<string>>(StringComparer.Ordinal);
            foreach (var backing in model.BackingResources)
            {
                ready[backing.Name] = ProvisionAsync(provisioner, backing, stoppingToken);
            }
            var otlp = OwnAddress();
            foreach (var project in model.ProjectsInStartOrder())
            {
                var dependencies = project.References.Select(r => (r.Target.Name, Ready: ready[r.Target.Name])).ToList();
                ready[project.Name] = StartProjectAsync(project, dependencies, otlp, stoppingToken);
            }
            await Task.WhenAll(ready.Values);
            var endpoints = ready.ToDictionary(r => r.Key, r => r.Value.Result, StringComparer.Ordinal);
            logger.LogInformation("Wave is running: api {Api}, registry {Proxy}. Ctrl+C stops everything.",
                endpoints.GetValueOrDefault("api"), endpoints.GetValueOrDefault("registry-proxy"));
            Ready.TrySetResult(true);
            await WatchAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            Ready.TrySetResult(false);
        }
        catch (Exception e)
        {
            logger.LogError("The distributed application did not start: {Message}", e.Message);
            foreach (var entry in board.Snapshot(0).Where(s => s.State == ResourceState.Starting))
            {
                board[entry.Name].State = ResourceState.Failed;
            }
            Ready.TrySetResult(false);
            System.Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
    }

    /// <summary>Provisions one backing service; the task's result is its connection string.</summary>
    private async Task<string> ProvisionAsync(BackingServiceProvisioner provisioner, BackingResource backing, CancellationToken stoppingToken)
    {
        var entry = board[backing.Name];
        entry.State = ResourceState.Starting;
        var service = await provisioner.ProvisionAsync(backing, entry.Log, stoppingToken);
        lock (_gate)
        {
            _backing.Add((backing.Name, service));
        }
        entry.Source = service.Source;
        entry.Endpoint = service.Endpoint;
        entry.ProcessId = service.MainProcessId;
        entry.Health = "Healthy";
        entry.State = ResourceState.Running;
        logger.LogInformation("{Resource} is ready ({Source})", backing.Name, service.Source);
        return service.ConnectionString;
    }

    /// <summary>Starts one project once its references are ready; the task's result is its URL.</summary>
    private async Task<string> StartProjectAsync(ProjectResource project, IReadOnlyList<(string Name, Task<string> Ready)> dependencies,
        string otlp, CancellationToken stoppingToken)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, task) in dependencies)
        {
            values[name] = await task;
        }
        var entry = board[project.Name];
        entry.State = ResourceState.Starting;
        var port = Executables.FreeLoopbackPort();
        var url = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        var process = StartProject(project, Environment(project, url, otlp, values, values), entry);
        entry.Endpoint = url;
        await WaitHealthyAsync(project.Name, url, process, stoppingToken);
        entry.Health = "Healthy";
        entry.State = ResourceState.Running;
        logger.LogInformation("{Project} is healthy on {Url}", project.Name, url);
        return url;
    }

    private async Task<bool> WaitForStartedAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        await Task.WhenAny(started.Task, Task.Delay(Timeout.Infinite, stoppingToken));
        return !stoppingToken.IsCancellationRequested;
    }

    private string OwnAddress()
    {
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("the AppHost has no listening address");
        // A wildcard address is not something a client can connect to.
        return address.Replace("://+:", "://127.0.0.1:", StringComparison.Ordinal).Replace("://*:", "://127.0.0.1:", StringComparison.Ordinal)
            .Replace("://[::]:", "://127.0.0.1:", StringComparison.Ordinal).Replace("://0.0.0.0:", "://127.0.0.1:", StringComparison.Ordinal);
    }

    /// <summary>The environment Aspire gives a project: its references, its address and where its telemetry goes.</summary>
    public static Dictionary<string, string?> Environment(ProjectResource project, string url, string otlpEndpoint,
        IReadOnlyDictionary<string, string> connectionStrings, IReadOnlyDictionary<string, string> endpoints)
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["ASPNETCORE_URLS"] = url,
            ["urls"] = null,
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlpEndpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["WAVE_APPHOST_DATA"] = null,
        };
        foreach (var (key, value) in ServiceEnvironment.Telemetry(project))
        {
            environment[key] = value;
        }
        foreach (var reference in project.References)
        {
            switch (reference.Target)
            {
                case BackingResource backing:
                    environment[ServiceEnvironment.ConnectionStringKey(reference.ConnectionName)] = connectionStrings[backing.Name];
                    break;
                case ProjectResource target:
                    environment[ServiceEnvironment.ServiceKey(target.Name)] = endpoints[target.Name];
                    break;
            }
        }
        return environment;
    }

    private ManagedProcess StartProject(ProjectResource project, Dictionary<string, string?> environment, ResourceBoard.Entry entry)
    {
        var assembly = Path.Combine(AppContext.BaseDirectory, project.AssemblyName + ".dll");
        if (!File.Exists(assembly))
        {
            throw new FileNotFoundException($"{assembly} is missing: build the AppHost (it references {project.ProjectPath})");
        }
        var process = ManagedProcess.Start(project.Name, "dotnet", [assembly], environment, entry.Log, AppContext.BaseDirectory, echo: false);
        lock (_gate)
        {
            _projects.Add((project.Name, process));
            _launches[project.Name] = (project, environment);
        }
        entry.ProcessId = process.Id;
        return process;
    }

    private async Task WaitHealthyAsync(string name, string url, ManagedProcess process, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + HealthTimeout;
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{name} exited before it was healthy; its last lines:\n{string.Join('\n', board[name].Log.Last(20))}");
            }
            try
            {
                using var response = await _http.GetAsync(new Uri(url + "/health"), cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }
            await Task.Delay(200, cancellationToken);
        }
        throw new TimeoutException($"{name} was not healthy on {url}/health within {HealthTimeout.TotalSeconds:0}s");
    }

    /// <summary>Keeps the dashboard's health column current, and marks a project that exits on its own as failed.</summary>
    private async Task WatchAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken);
            List<(string Name, ManagedProcess Process)> projects;
            lock (_gate)
            {
                projects = [.. _projects];
            }
            foreach (var (name, process) in projects)
            {
                var entry = board[name];
                if (process.HasExited)
                {
                    entry.Health = "Unhealthy";
                    if (entry.RestartCount >= MaxRestarts)
                    {
                        entry.State = ResourceState.Failed;
                        continue;
                    }
                    // Same port and environment, so that the services that reference it find it again.
                    logger.LogWarning("{Project} exited on its own; restarting it", name);
                    (ProjectResource Project, Dictionary<string, string?> Environment) launch;
                    lock (_gate)
                    {
                        _projects.RemoveAll(p => ReferenceEquals(p.Process, process));
                        launch = _launches[name];
                    }
                    Interlocked.Increment(ref entry.RestartCount);
                    entry.State = ResourceState.Starting;
                    StartProject(launch.Project, launch.Environment, entry);
                    continue;
                }
                try
                {
                    using var response = await _http.GetAsync(new Uri(entry.Endpoint + "/health"), stoppingToken);
                    entry.Health = HealthAnswer.Status(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(stoppingToken));
                    if (response.IsSuccessStatusCode && entry.State == ResourceState.Starting)
                    {
                        entry.State = ResourceState.Running;
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !stoppingToken.IsCancellationRequested)
                {
                    entry.Health = "Unhealthy";
                }
            }
            foreach (var (name, service) in _backing.ToList())
            {
                if (service.Processes.Count > 0 && service.Processes[0].Process.HasExited)
                {
                    board[name].State = ResourceState.Failed;
                    board[name].Health = "Unhealthy";
                }
            }
        }
    }

    /// <summary>
    /// Everything is stopped while the AppHost's web server still runs: the services flush their telemetry to its
    /// OTLP receiver on the way out, and would otherwise retry against a closed port until their export timeout.
    /// </summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await (_stopped ??= StopEverythingAsync());
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await (_stopped ??= StopEverythingAsync());
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private Task? _stopped;

    private async Task StopEverythingAsync()
    {
        List<(string Name, ManagedProcess Process)> projects;
        List<(string Name, ProvisionedService Service)> backing;
        lock (_gate)
        {
            projects = [.. _projects];
            backing = [.. _backing];
        }
        // Projects first, so that none of them sees its backing service vanish while it is still serving.
        await Task.WhenAll(projects.Select(async p =>
        {
            board[p.Name].State = ResourceState.Stopping;
            var watch = System.Diagnostics.Stopwatch.StartNew();
            await p.Process.StopAsync(ProcessTree.SigTerm, StopGrace);
            board[p.Name].State = ResourceState.Stopped;
            logger.LogInformation("{Resource} stopped in {Seconds:0.0} s", p.Name, watch.Elapsed.TotalSeconds);
        }));
        await Task.WhenAll(backing.Select(async b =>
        {
            board[b.Name].State = ResourceState.Stopping;
            var watch = System.Diagnostics.Stopwatch.StartNew();
            foreach (var (process, signal) in b.Service.Processes)
            {
                await process.StopAsync(signal, StopGrace);
            }
            board[b.Name].State = ResourceState.Stopped;
            logger.LogInformation("{Resource} stopped in {Seconds:0.0} s", b.Name, watch.Elapsed.TotalSeconds);
        }));
        logger.LogInformation("Stopped everything the AppHost started; data is kept in {DataDirectory}", mode.DataDirectory);
    }

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }
}
