using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

using Wave.Tests.Infrastructure;

namespace Wave.Tests.Builds.Kubernetes;

/// <summary>One request the fake API server received, with its JSON body when it had one.</summary>
public sealed record ApiCall(string Method, string Path, IReadOnlyDictionary<string, string> Query, JsonObject? Body, string? Authorization, string? ClientCertificateSubject)
{
    public override string ToString() => $"{Method} {Path}{(Query.Count == 0 ? "" : "?" + string.Join('&', Query.Select(q => $"{q.Key}={q.Value}")))}";
}

/// <summary>How the pod of the next Job behaves.</summary>
public sealed record PodScript
{
    public IReadOnlyList<string> LogLines { get; init; } = ["#1 building", "#1 DONE 0.1s"];
    public int ExitCode { get; init; }

    /// <summary>The Job's Failed reason when the pod fails: <c>BackoffLimitExceeded</c>, or <c>DeadlineExceeded</c>.</summary>
    public string FailedReason { get; init; } = "BackoffLimitExceeded";

    public TimeSpan StartAfter { get; init; } = TimeSpan.FromMilliseconds(100);
    public TimeSpan RunFor { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>The Job never ends (for a deadline Kubernetes does not report).</summary>
    public bool Hangs { get; init; }

    /// <summary>The first watch connection is closed after its first event, to make the client watch again.</summary>
    public bool DropFirstWatch { get; init; }
}

/// <summary>
/// A real HTTP(S) server on loopback that plays the Kubernetes API for Secrets, ConfigMaps, Jobs and Pods in one
/// namespace. It checks every request against the API's documented shapes (paths, verbs, content type, the bearer
/// token, the objects' apiVersion/kind/metadata and the Job's pod template) and records what it found wrong in
/// <see cref="Violations"/>, answering those requests with a 422 Status as a strict API server would. A created Job
/// gets a pod that runs <see cref="Script"/>: Pending, Running, then terminated, with the Job's condition to match,
/// visible through watch events and the pod log.
/// </summary>
public sealed partial class FakeKubernetesApi : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ApiCall> _calls = new();
    private readonly ConcurrentQueue<string> _violations = new();
    private readonly ConcurrentDictionary<(string Plural, string Name), JsonObject> _objects = new();
    private readonly Lock _lock = new();
    private readonly List<(long Version, string Type, string Name, JsonObject Job)> _jobEvents = [];
    private readonly List<Task> _scripts = [];
    private readonly CancellationTokenSource _stopping = new();
    private long _resourceVersion = 100;
    private int _watchConnections;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private FakeKubernetesApi(WebApplication app, Uri server, string @namespace, string? expectedAuthorization)
    {
        _app = app;
        Server = server;
        Namespace = @namespace;
        ExpectedAuthorization = expectedAuthorization;
    }

    public Uri Server { get; }
    public string Namespace { get; }

    /// <summary>The Authorization header every request must carry; null means none at all (client-certificate login).</summary>
    public string? ExpectedAuthorization { get; set; }

    public PodScript Script { get; set; } = new();

    /// <summary>Answers a request before the fake API does (to play RBAC refusals); null lets it through.</summary>
    public Func<ApiCall, IResult?>? Intercept { get; set; }

    public IReadOnlyList<ApiCall> Calls => [.. _calls];
    public IReadOnlyList<string> Violations => [.. _violations];

    public bool Exists(string plural, string name) => _objects.ContainsKey((plural, name));

    public static async Task<FakeKubernetesApi> StartAsync(string @namespace, string? expectedAuthorization, X509Certificate2? serverCertificate = null)
    {
        var port = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port, listen =>
        {
            if (serverCertificate is not null)
            {
                listen.UseHttps(https =>
                {
                    https.ServerCertificate = serverCertificate;
                    https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                    https.AllowAnyClientCertificate();
                });
            }
        }));
        var app = builder.Build();
        var api = new FakeKubernetesApi(app, new Uri($"{(serverCertificate is null ? "http" : "https")}://127.0.0.1:{port}"), @namespace, expectedAuthorization);
        app.Run(api.HandleAsync);
        await app.StartAsync();
        return api;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        Notify();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await Task.WhenAll(_scripts).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        JsonObject? body = null;
        var violations = new List<string>();
        if (request.ContentLength is > 0 || request.Method is "POST" or "PUT")
        {
            var text = await new StreamReader(request.Body, Encoding.UTF8).ReadToEndAsync(context.RequestAborted);
            try
            {
                body = JsonNode.Parse(text) as JsonObject;
            }
            catch (System.Text.Json.JsonException e)
            {
                violations.Add($"body is not JSON: {e.Message}");
            }
        }
        var call = new ApiCall(
            request.Method,
            request.Path.Value ?? "",
            request.Query.ToDictionary(q => q.Key, q => q.Value.ToString()),
            body,
            request.Headers.Authorization.ToString() is { Length: > 0 } auth ? auth : null,
            context.Connection.ClientCertificate?.Subject);
        _calls.Enqueue(call);

        if (call.Authorization != ExpectedAuthorization)
        {
            Violation(violations, call, $"Authorization header {(call.Authorization is null ? "missing" : "wrong")}");
            await WriteStatusAsync(context, 401, "Unauthorized", "Unauthorized");
            return;
        }
        if (Intercept?.Invoke(call) is { } intercepted)
        {
            await intercepted.ExecuteAsync(context);
            return;
        }
        if (request.Method is "POST" or "PUT" && request.ContentType?.StartsWith("application/json", StringComparison.Ordinal) != true)
        {
            violations.Add($"Content-Type is '{request.ContentType}', not application/json");
        }

        var route = Route().Match(call.Path);
        if (!route.Success)
        {
            Violation(violations, call, "no such API path");
            await WriteStatusAsync(context, 404, "NotFound", $"the server could not find the requested resource ({call.Path})");
            return;
        }
        var group = route.Groups["group"].Value;
        var ns = route.Groups["ns"].Value;
        var plural = route.Groups["plural"].Value;
        var name = route.Groups["name"].Success ? route.Groups["name"].Value : null;
        var sub = route.Groups["sub"].Success ? route.Groups["sub"].Value : null;
        if (ns != Namespace)
        {
            violations.Add($"namespace '{ns}' is not the configured '{Namespace}'");
        }
        var expectedGroup = plural == "jobs" ? "apis/batch/v1" : "api/v1";
        if (group != expectedGroup)
        {
            violations.Add($"{plural} live under /{expectedGroup}, not /{group}");
        }

        switch (request.Method, name, sub)
        {
            case ("POST", null, null) when plural is "secrets" or "configmaps" or "jobs":
                CheckObject(violations, plural, ns, body, null);
                if (!Report(violations, call))
                {
                    await WriteStatusAsync(context, 422, "Invalid", string.Join("; ", violations));
                    return;
                }
                await CreateAsync(context, plural, body!);
                return;
            case ("PUT", not null, null) when plural is "secrets" or "configmaps":
                CheckObject(violations, plural, ns, body, name);
                if (body?["metadata"]?["resourceVersion"] is not null)
                {
                    violations.Add("an unconditional replace carries no resourceVersion");
                }
                if (!Report(violations, call))
                {
                    await WriteStatusAsync(context, 422, "Invalid", string.Join("; ", violations));
                    return;
                }
                if (!_objects.ContainsKey((plural, name)))
                {
                    await WriteStatusAsync(context, 404, "NotFound", $"{plural} \"{name}\" not found");
                    return;
                }
                Stamp(body!);
                _objects[(plural, name)] = body!;
                await WriteJsonAsync(context, 200, body!);
                return;
            case ("GET", not null, null) when plural is "jobs" or "secrets" or "configmaps":
                Report(violations, call);
                await (_objects.TryGetValue((plural, name), out var found)
                    ? WriteJsonAsync(context, 200, Snapshot(found))
                    : WriteStatusAsync(context, 404, "NotFound", $"{plural} \"{name}\" not found"));
                return;
            case ("GET", null, null) when plural == "jobs" && call.Query.ContainsKey("watch"):
                CheckWatch(violations, call);
                Report(violations, call);
                await WatchAsync(context, call);
                return;
            case ("GET", null, null) when plural == "pods":
                var selector = call.Query.GetValueOrDefault("labelSelector");
                if (selector is null || !Selector().IsMatch(selector))
                {
                    violations.Add($"labelSelector '{selector}' is not key=value");
                }
                Report(violations, call);
                var (key, value) = selector?.Split('=', 2) is [var k, var v] ? (k, v) : ("", "");
                var items = new JsonArray([.. _objects.Where(o => o.Key.Plural == "pods" && o.Value["metadata"]?["labels"]?[key]?.GetValue<string>() == value).Select(o => (JsonNode)Snapshot(o.Value))]);
                await WriteJsonAsync(context, 200, new JsonObject { ["apiVersion"] = "v1", ["kind"] = "PodList", ["metadata"] = new JsonObject { ["resourceVersion"] = $"{_resourceVersion}" }, ["items"] = items });
                return;
            case ("GET", not null, "log") when plural == "pods":
                Report(violations, call);
                await LogAsync(context, call, name);
                return;
            case ("DELETE", not null, null) when plural is "jobs" or "secrets" or "configmaps":
                if (plural == "jobs" && call.Query.GetValueOrDefault("propagationPolicy") != "Background")
                {
                    violations.Add("a Job is deleted with propagationPolicy=Background, or its pods are orphaned");
                }
                Report(violations, call);
                if (!_objects.TryRemove((plural, name), out var removed))
                {
                    await WriteStatusAsync(context, 404, "NotFound", $"{plural} \"{name}\" not found");
                    return;
                }
                if (plural == "jobs")
                {
                    foreach (var pod in _objects.Where(o => o.Key.Plural == "pods" && o.Value["metadata"]?["labels"]?["batch.kubernetes.io/job-name"]?.GetValue<string>() == name).ToList())
                    {
                        _objects.TryRemove(pod.Key, out _);
                    }
                    Publish("DELETED", name, removed);
                }
                await WriteJsonAsync(context, 200, new JsonObject { ["kind"] = "Status", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["status"] = "Success", ["details"] = new JsonObject { ["name"] = name, ["kind"] = plural } });
                return;
            default:
                Violation(violations, call, $"{request.Method} is not an operation of this path");
                await WriteStatusAsync(context, 405, "MethodNotAllowed", $"{request.Method} not allowed");
                return;
        }
    }

    private async Task CreateAsync(HttpContext context, string plural, JsonObject body)
    {
        var name = body["metadata"]!["name"]!.GetValue<string>();
        if (!_objects.TryAdd((plural, name), body))
        {
            await WriteStatusAsync(context, 409, "AlreadyExists", $"{plural} \"{name}\" already exists", new JsonObject { ["name"] = name, ["kind"] = plural });
            return;
        }
        Stamp(body);
        if (plural == "jobs")
        {
            body["status"] = new JsonObject();
            lock (_lock)
            {
                _jobEvents.Add((long.Parse(body["metadata"]!["resourceVersion"]!.GetValue<string>()), "ADDED", name, (JsonObject)body.DeepClone()));
            }
            var script = Script;
            _scripts.Add(RunPodAsync(name, body, script));
        }
        await WriteJsonAsync(context, 201, body);
    }

    /// <summary>The pod of a Job: Pending, Running after StartAfter, terminated after RunFor, with the Job's condition.</summary>
    private async Task RunPodAsync(string jobName, JsonObject job, PodScript script)
    {
        var labels = (JsonObject)job["spec"]!["template"]!["metadata"]!["labels"]!.DeepClone();
        labels["batch.kubernetes.io/job-name"] = jobName;
        labels["job-name"] = jobName;
        var podName = $"{jobName}-{Guid.NewGuid().ToString("N")[..5]}";
        var pod = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = new JsonObject { ["name"] = podName, ["namespace"] = Namespace, ["labels"] = labels, ["creationTimestamp"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ") },
            ["spec"] = job["spec"]!["template"]!["spec"]!.DeepClone(),
            ["status"] = PodStatus("Pending", new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "ContainerCreating" } }),
        };
        _objects[("pods", podName)] = pod;
        try
        {
            await Task.Delay(script.StartAfter, _stopping.Token);
            SetStatus(pod, PodStatus("Running", new JsonObject { ["running"] = new JsonObject { ["startedAt"] = DateTimeOffset.UtcNow.ToString("O") } }));
            UpdateJob(jobName, status => status["active"] = 1);
            if (script.Hangs)
            {
                return;
            }
            await Task.Delay(script.RunFor, _stopping.Token);
            var failed = script.ExitCode != 0 || script.FailedReason == "DeadlineExceeded";
            SetStatus(pod, PodStatus(failed ? "Failed" : "Succeeded", new JsonObject
            {
                ["terminated"] = new JsonObject { ["exitCode"] = script.ExitCode, ["reason"] = script.ExitCode == 0 ? "Completed" : "Error" },
            }));
            UpdateJob(jobName, status =>
            {
                status.Remove("active");
                status[failed ? "failed" : "succeeded"] = 1;
                status["conditions"] = new JsonArray
                {
                    failed
                        ? new JsonObject { ["type"] = "Failed", ["status"] = "True", ["reason"] = script.FailedReason, ["message"] = script.FailedReason == "DeadlineExceeded" ? "Job was active longer than specified deadline" : "Job has reached the specified backoff limit" }
                        : new JsonObject { ["type"] = "Complete", ["status"] = "True" },
                };
            });
        }
        catch (OperationCanceledException)
        {
        }
    }

    // Objects change while requests read them: both sides go through the lock.
    private JsonObject Snapshot(JsonObject value)
    {
        lock (_lock)
        {
            return (JsonObject)value.DeepClone();
        }
    }

    private void SetStatus(JsonObject pod, JsonObject status)
    {
        lock (_lock)
        {
            pod["status"] = status;
        }
    }

    private static JsonObject PodStatus(string phase, JsonObject state) => new()
    {
        ["phase"] = phase,
        ["containerStatuses"] = new JsonArray { new JsonObject { ["name"] = "build", ["state"] = state } },
    };

    private void UpdateJob(string name, Action<JsonObject> change)
    {
        if (!_objects.TryGetValue(("jobs", name), out var job))
        {
            return;
        }
        lock (_lock)
        {
            change((JsonObject)job["status"]!);
            job["metadata"]!["resourceVersion"] = $"{Interlocked.Increment(ref _resourceVersion)}";
        }
        Publish("MODIFIED", name, job);
    }

    private void Publish(string type, string name, JsonObject job)
    {
        lock (_lock)
        {
            var version = type == "DELETED" ? Interlocked.Increment(ref _resourceVersion) : long.Parse(job["metadata"]!["resourceVersion"]!.GetValue<string>());
            _jobEvents.Add((version, type, name, (JsonObject)job.DeepClone()));
        }
        Notify();
    }

    private void Notify()
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
    }

    /// <summary>Newline-delimited watch events after the given resourceVersion; ends once the Job reached its end.</summary>
    private async Task WatchAsync(HttpContext context, ApiCall call)
    {
        var name = call.Query.GetValueOrDefault("fieldSelector", "").Replace("metadata.name=", "", StringComparison.Ordinal);
        var since = long.TryParse(call.Query.GetValueOrDefault("resourceVersion"), out var v) ? v : 0;
        var dropAfterFirst = Script.DropFirstWatch && Interlocked.Increment(ref _watchConnections) == 1;
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        await context.Response.StartAsync(context.RequestAborted);
        while (!context.RequestAborted.IsCancellationRequested && !_stopping.IsCancellationRequested)
        {
            Task changed;
            List<(long Version, string Type, string Name, JsonObject Job)> pending;
            lock (_lock)
            {
                changed = _changed.Task;
                pending = [.. _jobEvents.Where(e => e.Name == name && e.Version > since)];
            }
            foreach (var (version, type, _, job) in pending)
            {
                await context.Response.WriteAsync(new JsonObject { ["type"] = type, ["object"] = job.DeepClone() }.ToJsonString() + "\n", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                since = version;
                if (dropAfterFirst || type == "DELETED" || job["status"]?["conditions"] is JsonArray { Count: > 0 })
                {
                    return;
                }
            }
            await changed.WaitAsync(TimeSpan.FromSeconds(5), context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private async Task LogAsync(HttpContext context, ApiCall call, string podName)
    {
        if (call.Query.GetValueOrDefault("container") != "build")
        {
            _violations.Enqueue($"{call}: the log of container '{call.Query.GetValueOrDefault("container")}' was asked, the pod's container is 'build'");
        }
        if (!_objects.TryGetValue(("pods", podName), out var pod))
        {
            await WriteStatusAsync(context, 404, "NotFound", $"pods \"{podName}\" not found");
            return;
        }
        if (Snapshot(pod)["status"]?["containerStatuses"]?[0]?["state"]?["waiting"] is not null)
        {
            await WriteStatusAsync(context, 400, "BadRequest", $"container \"build\" in pod \"{podName}\" is waiting to start: ContainerCreating");
            return;
        }
        var script = Script;
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/plain";
        foreach (var line in script.LogLines)
        {
            await context.Response.WriteAsync(line + "\n", context.RequestAborted);
        }
        await context.Response.Body.FlushAsync(context.RequestAborted);
        if (call.Query.GetValueOrDefault("follow") == "true")
        {
            // Following ends when the container does.
            while (Snapshot(pod)["status"]?["containerStatuses"]?[0]?["state"]?["running"] is not null && !context.RequestAborted.IsCancellationRequested && !_stopping.IsCancellationRequested && _objects.ContainsKey(("pods", podName)))
            {
                await Task.Delay(20, context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private void Stamp(JsonObject body)
    {
        var metadata = (JsonObject)body["metadata"]!;
        metadata["uid"] ??= Guid.NewGuid().ToString();
        metadata["namespace"] = Namespace;
        metadata["creationTimestamp"] ??= DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ");
        metadata["resourceVersion"] = $"{Interlocked.Increment(ref _resourceVersion)}";
    }

    private void CheckWatch(List<string> violations, ApiCall call)
    {
        if (call.Query.GetValueOrDefault("watch") != "true")
        {
            violations.Add("watch must be 'true'");
        }
        if (call.Query.GetValueOrDefault("fieldSelector") is not { } selector || !selector.StartsWith("metadata.name=", StringComparison.Ordinal) || !DnsLabel().IsMatch(selector["metadata.name=".Length..]))
        {
            violations.Add("a watch of one Job selects it with fieldSelector=metadata.name=NAME");
        }
        if (call.Query.TryGetValue("resourceVersion", out var version) && !long.TryParse(version, out _))
        {
            violations.Add($"resourceVersion '{version}' is not one the server handed out");
        }
    }

    /// <summary>The object rules of the API server for what the backend creates.</summary>
    private void CheckObject(List<string> violations, string plural, string ns, JsonObject? body, string? pathName)
    {
        if (body is null)
        {
            violations.Add("no JSON object in the body");
            return;
        }
        var (apiVersion, kind) = plural switch { "secrets" => ("v1", "Secret"), "configmaps" => ("v1", "ConfigMap"), _ => ("batch/v1", "Job") };
        Expect(violations, body["apiVersion"]?.ToString() == apiVersion, $"apiVersion must be {apiVersion}");
        Expect(violations, body["kind"]?.ToString() == kind, $"kind must be {kind}");
        var metadata = body["metadata"] as JsonObject;
        var name = metadata?["name"]?.ToString();
        Expect(violations, name is not null && DnsLabel().IsMatch(name) && name.Length <= 63, $"metadata.name '{name}' must be a DNS-1123 label of at most 63 characters");
        Expect(violations, pathName is null || pathName == name, "metadata.name must match the path");
        Expect(violations, metadata?["namespace"] is null || metadata["namespace"]!.ToString() == ns, "metadata.namespace must match the path");
        CheckLabels(violations, "metadata.labels", metadata?["labels"]);
        Expect(violations, metadata?["labels"]?["wave.seqera.io/build-id"] is not null, "every object carries the wave.seqera.io/build-id label");

        switch (plural)
        {
            case "secrets":
                Expect(violations, body["type"]?.ToString() == "kubernetes.io/dockerconfigjson", "the Secret's type must be kubernetes.io/dockerconfigjson");
                var encoded = body["data"]?[".dockerconfigjson"]?.ToString();
                try
                {
                    var config = JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(encoded ?? "")));
                    Expect(violations, config?["auths"] is JsonObject, ".dockerconfigjson must hold an 'auths' object");
                }
                catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
                {
                    violations.Add("data[.dockerconfigjson] must be base64 of a docker config JSON");
                }
                break;
            case "configmaps":
                var data = body["data"] as JsonObject;
                Expect(violations, data is not null && data.All(p => ConfigMapKey().IsMatch(p.Key) && p.Value?.GetValueKind() == System.Text.Json.JsonValueKind.String), "ConfigMap data keys must match [-._a-zA-Z0-9]+ with string values");
                if (body["binaryData"] is { } binaryNode)
                {
                    var binary = binaryNode as JsonObject;
                    Expect(violations, binary is not null && binary.All(p => ConfigMapKey().IsMatch(p.Key) && IsBase64(p.Value)), "ConfigMap binaryData keys must match [-._a-zA-Z0-9]+ with base64 string values");
                    Expect(violations, binary is null || data is null || !binary.Any(p => data.ContainsKey(p.Key)), "ConfigMap binaryData keys must not repeat data keys");
                }
                break;
            case "jobs":
                CheckJob(violations, body);
                break;
        }
    }

    private void CheckJob(List<string> violations, JsonObject job)
    {
        var spec = job["spec"] as JsonObject;
        Expect(violations, spec is not null && spec.All(p => p.Key is "backoffLimit" or "activeDeadlineSeconds" or "ttlSecondsAfterFinished" or "template" or "completions" or "parallelism"), "Job spec has only known fields");
        Expect(violations, spec?["selector"] is null, "the Job leaves its selector to the server");
        Expect(violations, spec?["backoffLimit"]?.GetValue<int>() == 0, "backoffLimit must be 0");
        Expect(violations, spec?["activeDeadlineSeconds"] is JsonValue d && d.GetValue<long>() > 0, "activeDeadlineSeconds must be a positive integer");
        Expect(violations, spec?["ttlSecondsAfterFinished"] is null || spec["ttlSecondsAfterFinished"]!.GetValue<int>() >= 0, "ttlSecondsAfterFinished must be >= 0");
        CheckLabels(violations, "template.metadata.labels", spec?["template"]?["metadata"]?["labels"]);
        var podSpec = spec?["template"]?["spec"] as JsonObject;
        Expect(violations, podSpec?["restartPolicy"]?.ToString() == "Never", "a Job's pod has restartPolicy Never (or OnFailure)");
        Expect(violations, podSpec is not null && podSpec.All(p => p.Key is "restartPolicy" or "containers" or "volumes" or "nodeSelector" or "serviceAccountName" or "automountServiceAccountToken" or "securityContext" or "tolerations"), "pod spec has only known fields");
        var containers = podSpec?["containers"] as JsonArray;
        Expect(violations, containers is { Count: 1 }, "one container");
        var volumes = (podSpec?["volumes"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        var volumeNames = volumes.Select(v => v["name"]?.ToString()).ToHashSet();
        Expect(violations, volumeNames.Count == volumes.Count && volumeNames.All(n => n is not null && DnsLabel().IsMatch(n)), "volume names are unique DNS labels");
        foreach (var volume in volumes)
        {
            var sources = volume.Where(p => p.Key != "name").Select(p => p.Key).ToList();
            Expect(violations, sources.Count == 1 && sources[0] is "secret" or "configMap" or "emptyDir", $"volume {volume["name"]} has exactly one known source");
            if (volume["secret"] is JsonObject secret)
            {
                Expect(violations, secret["secretName"] is not null && _objects.ContainsKey(("secrets", secret["secretName"]!.ToString())), "the secret volume references a Secret created before the Job");
            }
            if (volume["configMap"] is JsonObject configMap)
            {
                Expect(violations, configMap["name"] is not null && _objects.ContainsKey(("configmaps", configMap["name"]!.ToString())), "the configMap volume references a ConfigMap created before the Job");
                foreach (var item in (configMap["items"] as JsonArray)?.OfType<JsonObject>() ?? [])
                {
                    var key = item["key"]?.ToString();
                    var found = _objects.TryGetValue(("configmaps", configMap["name"]!.ToString()), out var cm);
                    var inData = found && key is not null && (cm!["data"] as JsonObject)?.ContainsKey(key) == true;
                    var inBinaryData = found && key is not null && (cm!["binaryData"] as JsonObject)?.ContainsKey(key) == true;
                    Expect(violations, inData || inBinaryData, $"configMap item key '{key}' exists in the ConfigMap (data or binaryData)");
                    Expect(violations, item["path"]?.ToString() is { Length: > 0 } path && !path.StartsWith('/') && !path.Split('/').Contains(".."), "item paths are relative without '..'");
                }
            }
        }
        foreach (var container in containers?.OfType<JsonObject>() ?? [])
        {
            Expect(violations, container.All(p => p.Key is "name" or "image" or "command" or "args" or "env" or "volumeMounts" or "resources" or "securityContext" or "workingDir"), "container has only known fields");
            Expect(violations, container["name"]?.ToString() is { } n && DnsLabel().IsMatch(n), "container name is a DNS label");
            Expect(violations, container["image"]?.ToString() is { Length: > 0 }, "container image is set");
            Expect(violations, container["args"] is JsonArray args && args.All(a => a?.GetValueKind() == System.Text.Json.JsonValueKind.String), "args is an array of strings");
            foreach (var env in (container["env"] as JsonArray)?.OfType<JsonObject>() ?? [])
            {
                Expect(violations, env["name"] is not null && env["value"]?.GetValueKind() == System.Text.Json.JsonValueKind.String, "env entries have a name and a string value");
            }
            foreach (var mount in (container["volumeMounts"] as JsonArray)?.OfType<JsonObject>() ?? [])
            {
                Expect(violations, volumeNames.Contains(mount["name"]?.ToString()), $"volumeMount {mount["name"]} references a volume of the pod");
                Expect(violations, mount["mountPath"]?.ToString()?.StartsWith('/') == true, "mountPath is absolute");
            }
            if (container["resources"] is JsonObject resources)
            {
                Expect(violations, resources.All(p => p.Key is "requests" or "limits" && p.Value is JsonObject), "resources has requests/limits maps");
            }
        }
    }

    private static void CheckLabels(List<string> violations, string where, JsonNode? labels)
    {
        foreach (var (key, value) in labels as JsonObject ?? [])
        {
            Expect(violations, LabelKey().IsMatch(key), $"{where} key '{key}' is not a valid label key");
            Expect(violations, value?.GetValueKind() == System.Text.Json.JsonValueKind.String && LabelValue().IsMatch(value.ToString()), $"{where}['{key}'] = '{value}' is not a valid label value");
        }
    }

    private static void Expect(List<string> violations, bool condition, string rule)
    {
        if (!condition)
        {
            violations.Add(rule);
        }
    }

    private bool Report(List<string> violations, ApiCall call)
    {
        foreach (var violation in violations)
        {
            _violations.Enqueue($"{call}: {violation}");
        }
        return violations.Count == 0;
    }

    private void Violation(List<string> violations, ApiCall call, string violation)
    {
        violations.Add(violation);
        Report(violations, call);
    }

    private static Task WriteJsonAsync(HttpContext context, int status, JsonObject body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body.ToJsonString());
    }

    /// <summary>A metav1.Status failure, the way the API server answers errors.</summary>
    public static JsonObject Status(int code, string reason, string message, JsonObject? details = null) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = "Failure",
        ["message"] = message,
        ["reason"] = reason,
        ["details"] = details ?? new JsonObject(),
        ["code"] = code,
    };

    private static Task WriteStatusAsync(HttpContext context, int code, string reason, string message, JsonObject? details = null) =>
        WriteJsonAsync(context, code, Status(code, reason, message, details));

    [GeneratedRegex("^/(?<group>api/v1|apis/batch/v1)/namespaces/(?<ns>[^/]+)/(?<plural>secrets|configmaps|pods|jobs)(/(?<name>[^/]+)(/(?<sub>log))?)?$")]
    private static partial Regex Route();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex("^[-._a-zA-Z0-9]+$")]
    private static partial Regex ConfigMapKey();

    [GeneratedRegex(@"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")]
    private static partial Regex LabelKey();

    [GeneratedRegex("^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")]
    private static partial Regex LabelValue();

    [GeneratedRegex("^[-A-Za-z0-9_./]+=[-A-Za-z0-9_.]+$")]
    private static partial Regex Selector();

    private static bool IsBase64(JsonNode? value)
    {
        if (value?.GetValueKind() != System.Text.Json.JsonValueKind.String)
        {
            return false;
        }
        var text = value.GetValue<string>();
        return Convert.TryFromBase64String(text, new byte[text.Length], out _);
    }
}
