using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;

using k8s;
using k8s.Models;

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Wave.Tests.Infrastructure.Kubernetes;

/// <summary>
/// What a build pod does, as the test tells it: the log lines its container prints, how long it runs, how it ends.
/// </summary>
public sealed record PodScript
{
    public IReadOnlyList<string> Lines { get; init; } = [];

    /// <summary>The container's exit code: 0 ends the pod Succeeded, anything else Failed.</summary>
    public int ExitCode { get; init; }

    /// <summary>How long the pod stays Pending after it was bound to a node.</summary>
    public TimeSpan StartAfter { get; init; }

    /// <summary>How long the container runs after it printed its lines.</summary>
    public TimeSpan RunFor { get; init; }

    /// <summary>Lines the container prints when it is about to end (after <see cref="RunFor"/> and <see cref="Until"/>).</summary>
    public IReadOnlyList<string> LastLines { get; init; } = [];

    /// <summary>When set, the container runs until this task completes (after <see cref="RunFor"/>).</summary>
    public Task? Until { get; init; }

    /// <summary>The container never ends by itself (only a deletion of its pod stops it).</summary>
    public bool Hangs { get; init; }
}

/// <summary>
/// The part of the cluster the control plane lacks: a scheduler and a kubelet for two nodes (<c>amd64</c> and
/// <c>arm64</c>, labelled <c>kubernetes.io/arch</c>). For the namespaces a test runs through <see cref="Run"/>, it binds
/// each new pod to the node its node selector matches (a pod no node matches stays Pending, as it would in a real
/// cluster), sets it Running and then Succeeded or Failed with an exit code through the status subresource, serves the
/// container's log on the nodes' kubelet endpoint (a small HTTPS server: the API server asks it for <c>pods/log</c>),
/// and completes the deletion of pods that are deleted, as a kubelet does once their containers stopped.
/// </summary>
public sealed class TestKubelet : IAsyncDisposable
{
    public const string Amd64Node = "wave-test-amd64";
    public const string Arm64Node = "wave-test-arm64";

    private readonly IKubernetes _admin;
    private readonly WebApplication _server;
    private readonly ConcurrentDictionary<string, PodLog> _logs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _logRequests = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, IReadOnlyDictionary<string, string>> _nodeLabels = new()
    {
        [Amd64Node] = new Dictionary<string, string> { ["kubernetes.io/arch"] = "amd64", ["kubernetes.io/os"] = "linux", ["kubernetes.io/hostname"] = Amd64Node },
        [Arm64Node] = new Dictionary<string, string> { ["kubernetes.io/arch"] = "arm64", ["kubernetes.io/os"] = "linux", ["kubernetes.io/hostname"] = Arm64Node },
    };
    private Task _heartbeat = Task.CompletedTask;

    private TestKubelet(IKubernetes admin, WebApplication server)
    {
        _admin = admin;
        _server = server;
    }

    public int Port { get; private set; }

    internal IKubernetes AdminClient => _admin;

    public static async Task<TestKubelet> StartAsync(IKubernetes admin)
    {
        var certificates = new TestCertificates("wave-test-kubelet-ca");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0, listen => listen.UseHttps(certificates.Server())));
        var app = builder.Build();
        var kubelet = new TestKubelet(admin, app);
        app.MapGet("/containerLogs/{ns}/{pod}/{container}", kubelet.ServeLogAsync);
        await app.StartAsync();
        kubelet.Port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        foreach (var (name, labels) in kubelet._nodeLabels)
        {
            await admin.CoreV1.CreateNodeAsync(new V1Node { Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string>(labels) } });
        }
        await kubelet.ReportNodesAsync();
        kubelet._heartbeat = kubelet.HeartbeatAsync();
        return kubelet;
    }

    /// <summary>How often the API server asked for the log of a pod (each <c>kubectl logs</c> or follower is one).</summary>
    public int LogRequests(string @namespace, string pod) => _logRequests.GetValueOrDefault($"{@namespace}/{pod}");

    /// <summary>Plays the pods of <paramref name="namespace"/> until disposed, each as <paramref name="script"/> says.</summary>
    public PodRunner Run(string @namespace, Func<V1Pod, PodScript> script) => new(this, @namespace, script);

    /// <summary>Plays the pods of <paramref name="namespace"/>, all alike.</summary>
    public PodRunner Run(string @namespace, PodScript script) => Run(@namespace, _ => script);

    internal string? NodeFor(V1Pod pod) => _nodeLabels
        .Where(node => (pod.Spec.NodeSelector ?? new Dictionary<string, string>()).All(wanted => node.Value.TryGetValue(wanted.Key, out var value) && value == wanted.Value))
        .Select(node => node.Key)
        .FirstOrDefault();

    internal PodLog LogOf(string @namespace, string pod, string container) => _logs.GetOrAdd($"{@namespace}/{pod}/{container}", _ => new PodLog());

    /// <summary>Addresses, kubelet port and a fresh Ready condition, as a kubelet reports them (the node controller taints nodes whose heartbeat stops).</summary>
    private async Task ReportNodesAsync()
    {
        var now = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        var status = new JsonObject
        {
            ["status"] = new JsonObject
            {
                ["addresses"] = new JsonArray { new JsonObject { ["type"] = "InternalIP", ["address"] = "127.0.0.1" } },
                ["daemonEndpoints"] = new JsonObject { ["kubeletEndpoint"] = new JsonObject { ["Port"] = Port } },
                ["capacity"] = new JsonObject { ["cpu"] = "8", ["memory"] = "32Gi", ["pods"] = "110" },
                ["allocatable"] = new JsonObject { ["cpu"] = "8", ["memory"] = "32Gi", ["pods"] = "110" },
                ["conditions"] = new JsonArray
                {
                    new JsonObject
                    {
                        ["type"] = "Ready", ["status"] = "True", ["reason"] = "KubeletReady", ["message"] = "played by the tests",
                        ["lastHeartbeatTime"] = now, ["lastTransitionTime"] = now,
                    },
                },
            },
        };
        foreach (var name in _nodeLabels.Keys)
        {
            await _admin.CoreV1.PatchNodeStatusAsync(new V1Patch(status.ToJsonString(), V1Patch.PatchType.MergePatch), name);
        }
    }

    private async Task HeartbeatAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(10), _stop.Token);
                await ReportNodesAsync();
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception)
            {
                // A busy API server: the next beat tries again (the node controller's grace period is 40 s).
            }
        }
    }

    private async Task ServeLogAsync(HttpContext context, string ns, string pod, string container)
    {
        _logRequests.AddOrUpdate($"{ns}/{pod}", 1, (_, count) => count + 1);
        if (!_logs.TryGetValue($"{ns}/{pod}/{container}", out var log))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            await context.Response.WriteAsync($"container {container} of pod {ns}/{pod} has not started", context.RequestAborted);
            return;
        }
        var follow = context.Request.Query["follow"] == "true";
        context.Response.ContentType = "text/plain";
        await context.Response.StartAsync(context.RequestAborted);
        var written = 0;
        try
        {
            while (true)
            {
                var (lines, completed, changed) = log.Snapshot(written);
                foreach (var line in lines)
                {
                    await context.Response.WriteAsync(line + "\n", context.RequestAborted);
                }
                written += lines.Count;
                await context.Response.Body.FlushAsync(context.RequestAborted);
                if (completed || !follow)
                {
                    return;
                }
                await changed.WaitAsync(context.RequestAborted);
            }
        }
        catch (OperationCanceledException)
        {
            // The API server's client went away.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _heartbeat;
        await _server.StopAsync();
        await _server.DisposeAsync();
        _stop.Dispose();
    }

    /// <summary>A container's output: lines so far, whether it ended, and a signal for the next change.</summary>
    internal sealed class PodLog
    {
        private readonly Lock _gate = new();
        private readonly List<string> _lines = [];
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private bool _completed;

        public void Append(string line) => Change(() => _lines.Add(line));

        public void Complete() => Change(() => _completed = true);

        public (IReadOnlyList<string> Lines, bool Completed, Task Changed) Snapshot(int from)
        {
            lock (_gate)
            {
                return (_lines.Skip(from).ToList(), _completed, _changed.Task);
            }
        }

        private void Change(Action change)
        {
            TaskCompletionSource changed;
            lock (_gate)
            {
                change();
                changed = _changed;
                _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            changed.TrySetResult();
        }
    }
}

/// <summary>
/// The pods of one namespace as <see cref="TestKubelet"/> plays them, with what it saw: every pod created there, and
/// the ones no node's labels matched.
/// </summary>
public sealed class PodRunner : IAsyncDisposable
{
    private readonly TestKubelet _kubelet;
    private readonly string _namespace;
    private readonly Func<V1Pod, PodScript> _script;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, PodPlay> _plays = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<Exception> _errors = new();
    private readonly Task _watch;

    internal PodRunner(TestKubelet kubelet, string @namespace, Func<V1Pod, PodScript> script)
    {
        _kubelet = kubelet;
        _namespace = @namespace;
        _script = script;
        Admin = kubelet.AdminClient;
        _watch = WatchAsync();
    }

    private IKubernetes Admin { get; }

    /// <summary>Every pod seen in the namespace, by name (the uid tells a re-created pod apart).</summary>
    public IReadOnlyDictionary<string, V1Pod> Pods => _plays.ToDictionary(p => p.Key, p => p.Value.Pod);

    /// <summary>Pods that stayed Pending because no node matches their node selector.</summary>
    public IReadOnlyList<string> Unschedulable => [.. _plays.Where(p => p.Value.NoNode).Select(p => p.Key)];

    /// <summary>The node each pod was bound to.</summary>
    public string? NodeOf(string pod) => _plays.TryGetValue(pod, out var play) ? play.Node : null;

    /// <summary>Failures of the kubelet's own calls (a refused status patch): a test asserts there were none.</summary>
    public IReadOnlyList<Exception> Errors => [.. _errors];

    /// <summary>Waits (bounded) until a pod of the namespace runs, and returns it.</summary>
    public async Task<V1Pod> WaitForRunningPodAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        while (true)
        {
            if (_plays.Values.FirstOrDefault(p => p.Running) is { } play)
            {
                return play.Pod;
            }
            Assert.True(DateTime.UtcNow < deadline, $"no pod ran in {_namespace}; pods seen: {string.Join(", ", _plays.Keys)}; errors: {string.Join("; ", _errors.Select(e => e.Message))}");
            await Task.Delay(50);
        }
    }

    private async Task WatchAsync()
    {
        string? resourceVersion = null;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                if (resourceVersion is null)
                {
                    var list = await Admin.CoreV1.ListNamespacedPodAsync(_namespace, cancellationToken: _stop.Token);
                    foreach (var pod in list.Items)
                    {
                        Observe(pod);
                    }
                    resourceVersion = list.Metadata.ResourceVersion;
                }
                await foreach (var (type, pod) in Admin.CoreV1.WatchListNamespacedPodAsync(_namespace, resourceVersion: resourceVersion, timeoutSeconds: 60,
                    onError: _ => resourceVersion = null, cancellationToken: _stop.Token))
                {
                    resourceVersion = pod?.Metadata?.ResourceVersion ?? resourceVersion;
                    if (type is WatchEventType.Added or WatchEventType.Modified && pod is not null)
                    {
                        Observe(pod);
                    }
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _errors.Enqueue(e);
                resourceVersion = null;
                await Task.Delay(200);
            }
        }
    }

    private void Observe(V1Pod pod)
    {
        var play = _plays.GetOrAdd(pod.Metadata.Name, _ => new PodPlay(pod));
        play.Pod = pod;
        if (pod.Metadata.DeletionTimestamp is not null)
        {
            if (!play.Finalizing)
            {
                play.Finalizing = true;
                _ = FinalizeAsync(play);
            }
            return;
        }
        if (!play.Started)
        {
            play.Started = true;
            play.Task = PlayAsync(play);
        }
    }

    private async Task PlayAsync(PodPlay play)
    {
        var pod = play.Pod;
        var name = pod.Metadata.Name;
        try
        {
            var script = _script(pod);
            play.Node = _kubelet.NodeFor(pod);
            if (play.Node is null)
            {
                play.NoNode = true;
                return;
            }
            await Admin.CoreV1.CreateNamespacedPodBindingAsync(new V1Binding
            {
                Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = _namespace },
                Target = new V1ObjectReference { ApiVersion = "v1", Kind = "Node", Name = play.Node },
            }, name, _namespace, cancellationToken: play.Stop.Token);
            await Task.Delay(script.StartAfter, play.Stop.Token);

            var container = pod.Spec.Containers[0];
            var log = _kubelet.LogOf(_namespace, name, container.Name);
            var started = DateTime.UtcNow;
            await PatchStatusAsync(name, "Running", container, new JsonObject { ["running"] = new JsonObject { ["startedAt"] = Time(started) } }, play.Stop.Token);
            play.Running = true;
            foreach (var line in script.Lines)
            {
                log.Append(line);
            }
            await Task.Delay(script.RunFor, play.Stop.Token);
            if (script.Until is { } until)
            {
                await until.WaitAsync(play.Stop.Token);
            }
            if (script.Hangs)
            {
                await Task.Delay(Timeout.Infinite, play.Stop.Token);
            }
            foreach (var line in script.LastLines)
            {
                log.Append(line);
            }
            log.Complete();
            await PatchStatusAsync(name, script.ExitCode == 0 ? "Succeeded" : "Failed", container, new JsonObject
            {
                ["terminated"] = new JsonObject
                {
                    ["exitCode"] = script.ExitCode,
                    ["reason"] = script.ExitCode == 0 ? "Completed" : "Error",
                    ["startedAt"] = Time(started),
                    ["finishedAt"] = Time(DateTime.UtcNow),
                },
            }, play.Stop.Token);
        }
        catch (OperationCanceledException) when (play.Stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _errors.Enqueue(new InvalidOperationException($"playing pod {_namespace}/{name} failed: {e.Message}", e));
        }
    }

    /// <summary>What a kubelet does with a pod being deleted: stops its containers and removes it for good.</summary>
    private async Task FinalizeAsync(PodPlay play)
    {
        await play.Stop.CancelAsync();
        var name = play.Pod.Metadata.Name;
        _kubelet.LogOf(_namespace, name, play.Pod.Spec.Containers[0].Name).Complete();
        try
        {
            await Admin.CoreV1.DeleteNamespacedPodAsync(name, _namespace, gracePeriodSeconds: 0);
        }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
        }
        catch (Exception e)
        {
            _errors.Enqueue(new InvalidOperationException($"finalizing pod {_namespace}/{name} failed: {e.Message}", e));
        }
    }

    private Task PatchStatusAsync(string pod, string phase, V1Container container, JsonObject state, CancellationToken cancellationToken)
    {
        var terminated = state.ContainsKey("terminated");
        var patch = new JsonObject
        {
            ["status"] = new JsonObject
            {
                ["phase"] = phase,
                ["hostIP"] = "127.0.0.1",
                ["podIP"] = "127.0.0.1",
                ["startTime"] = Time(DateTime.UtcNow),
                ["containerStatuses"] = new JsonArray
                {
                    new JsonObject
                    {
                        ["name"] = container.Name,
                        ["image"] = container.Image,
                        ["imageID"] = "",
                        ["ready"] = !terminated,
                        ["started"] = !terminated,
                        ["restartCount"] = 0,
                        ["state"] = state,
                    },
                },
            },
        };
        return Admin.CoreV1.PatchNamespacedPodStatusAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch), pod, _namespace, cancellationToken: cancellationToken);
    }

    private static string Time(DateTime at) => at.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var play in _plays.Values)
        {
            await play.Stop.CancelAsync();
        }
        await _watch;
        await Task.WhenAll(_plays.Values.Select(p => p.Task));
        foreach (var play in _plays.Values)
        {
            play.Stop.Dispose();
        }
        _stop.Dispose();
    }

    private sealed class PodPlay(V1Pod pod)
    {
        public V1Pod Pod { get; set; } = pod;
        public string? Node { get; set; }
        public bool Started { get; set; }
        public bool Running { get; set; }
        public bool Finalizing { get; set; }
        public bool NoNode { get; set; }
        public Task Task { get; set; } = Task.CompletedTask;
        public CancellationTokenSource Stop { get; } = new();
    }
}
