using System.Net;
using System.Text;

using k8s;
using k8s.Autorest;
using k8s.Models;

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

using Wave.Core.Builds;
using Wave.Core.Registry;

namespace Wave.Builder.Kubernetes;

/// <summary>
/// Runs a build as one Kubernetes Job: a Secret with the push credentials, a ConfigMap with the recipe (or, with a
/// shared workspace volume, a folder of the build on it), a Job that runs the builder image (BuildKit rootless by
/// default) with both mounted. Watches the Job to its end, streams the pod's log into the sink, and deletes them
/// afterwards, whatever happened. KubernetesClient does the talking.
/// </summary>
/// <remarks>
/// A builder restarted in the middle of a build runs the same buildId again. Object names derive from the buildId,
/// so the second run meets 409 AlreadyExists: the Secret and ConfigMap are replaced (credentials may have rotated),
/// and the Job — whose pod template cannot change — is reused: the second run follows the pod the first one started
/// instead of building twice.
/// </remarks>
public sealed class KubernetesBuildBackend(
    KubernetesBuildCluster cluster,
    IOptions<KubernetesBuildOptions> options,
    ILogger<KubernetesBuildBackend>? logger = null,
    TimeProvider? timeProvider = null) : IBuildBackend
{
    private static readonly TimeSpan CleanupTimeout = TimeSpan.FromSeconds(30);
    private readonly KubernetesBuildOptions _options = options.Value.Problem() is { } problem ? throw new InvalidOperationException(problem) : options.Value;
    private readonly ILogger _logger = logger ?? NullLogger<KubernetesBuildBackend>.Instance;
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private IKubernetes Client => cluster.Client;

    public string Namespace => cluster.Namespace;

    public async Task<BuildOutcome> RunAsync(BuildJob job, IReadOnlyDictionary<string, RegistryCredentials> pushCredentials, IBuildLogSink log, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var ns = Namespace;
        var names = KubernetesBuildNames.For(job.BuildId);
        V1Secret secret;
        V1ConfigMap? configMap = null;
        V1Job jobManifest;
        try
        {
            secret = BuildManifests.Secret(names, ns, job, pushCredentials, _options);
            if (_options.HasSharedWorkspace)
            {
                BuildManifests.CheckWorkspaceRecipe(job);
            }
            else
            {
                configMap = BuildManifests.ConfigMap(names, ns, job, _options);
            }
            jobManifest = BuildManifests.Job(names, ns, job, _options);
        }
        catch (BuildContextException e)
        {
            await log.AppendAsync($"Cannot run the build on Kubernetes: {e.Message}\n", cancellationToken);
            return new BuildOutcome(false, null, null, e.Message, _time.GetElapsedTime(started));
        }

        try
        {
            await CreateOrReplaceAsync("secrets", ns, names.Secret,
                ct => Client.CoreV1.CreateNamespacedSecretAsync(secret, ns, cancellationToken: ct),
                ct => Client.CoreV1.ReplaceNamespacedSecretAsync(secret, names.Secret, ns, cancellationToken: ct), cancellationToken);
            if (configMap is null)
            {
                if (await WriteWorkspaceAsync(job, names, cancellationToken) is { } problem)
                {
                    await log.AppendAsync($"Cannot run the build on Kubernetes: {problem}\n", cancellationToken);
                    return new BuildOutcome(false, null, null, problem, _time.GetElapsedTime(started));
                }
            }
            else
            {
                await CreateOrReplaceAsync("configmaps", ns, names.ConfigMap,
                    ct => Client.CoreV1.CreateNamespacedConfigMapAsync(configMap, ns, cancellationToken: ct),
                    ct => Client.CoreV1.ReplaceNamespacedConfigMapAsync(configMap, names.ConfigMap, ns, cancellationToken: ct), cancellationToken);
            }
            var (created, isNew) = await CreateOrGetJobAsync(ns, jobManifest, cancellationToken);
            _logger.LogInformation("Build {BuildId} runs as Kubernetes Job {Namespace}/{Job}{Reused}", job.BuildId, ns, names.Job, isNew ? "" : " (reusing the existing Job)");
            return await FollowAsync(job, ns, names, created, log, started, cancellationToken);
        }
        finally
        {
            await CleanUpAsync(ns, names);
        }
    }

    /// <summary>
    /// Writes the recipe into the build's folder on the shared workspace: the context (<see cref="Local.BuildFolder.WriteContextAsync"/>)
    /// with the Dockerfile over it, as the init container lays out a ConfigMap's. It is written beside the folder and
    /// moved into place, so a pod never mounts half a recipe; a folder already there is a previous run's of this build
    /// id (the same content: the id is derived from it), which a reused Job's pod may be reading, and is kept.
    /// </summary>
    /// <returns>Null, or why the folder could not be written.</returns>
    private async Task<string?> WriteWorkspaceAsync(BuildJob job, KubernetesBuildNames names, CancellationToken cancellationToken)
    {
        var root = _options.WorkspaceDirectory!;
        var folder = Path.Combine(root, BuildManifests.WorkspaceFolder(names));
        var staging = Path.Combine(root, $".{BuildManifests.WorkspaceFolder(names)}-{Guid.NewGuid():N}");
        try
        {
            if (Directory.Exists(folder))
            {
                return null;
            }
            await Local.BuildFolder.WriteContextAsync(job, staging, cancellationToken);
            await File.WriteAllTextAsync(Path.Combine(staging, "Dockerfile"), job.Dockerfile, cancellationToken);
            try
            {
                Directory.Move(staging, folder);
            }
            catch (IOException) when (Directory.Exists(folder))
            {
                // Another run of this build moved its copy first.
            }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return $"the build's workspace could not be written to {folder} ({KubernetesBuildOptions.Section}:WorkspaceDirectory): {e.Message}";
        }
        finally
        {
            Local.BuildFolder.At(staging).Delete(_logger);
        }
    }

    private static async Task<T> CallAsync<T>(string verb, string resource, string ns, string? name, Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (HttpOperationException e)
        {
            throw KubernetesApiException.From(e, verb, resource, ns, name);
        }
    }

    private static async Task CreateOrReplaceAsync<T>(string resource, string ns, string name, Func<CancellationToken, Task<T>> create, Func<CancellationToken, Task<T>> replace, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync("create", resource, ns, name, () => create(cancellationToken));
        }
        catch (KubernetesApiException e) when (e.IsAlreadyExists)
        {
            // Left by a builder that died during this build: its content may be stale (rotated credentials).
            await CallAsync("replace", resource, ns, name, () => replace(cancellationToken));
        }
    }

    /// <summary>Creates the Job, or returns the one a previous run of this build created (its pod template is immutable).</summary>
    private async Task<(V1Job Job, bool IsNew)> CreateOrGetJobAsync(string ns, V1Job job, CancellationToken cancellationToken)
    {
        var name = job.Metadata.Name;
        while (true)
        {
            try
            {
                return (await CallAsync("create", "jobs", ns, name, () => Client.BatchV1.CreateNamespacedJobAsync(job, ns, cancellationToken: cancellationToken)), true);
            }
            catch (KubernetesApiException e) when (e.IsAlreadyExists)
            {
                if (await GetJobAsync(ns, name, cancellationToken) is { } existing)
                {
                    return (existing, false);
                }
                // Deleted between the create and the read: create it after all.
            }
        }
    }

    private async Task<V1Job?> GetJobAsync(string ns, string name, CancellationToken cancellationToken)
    {
        try
        {
            return await CallAsync("get", "jobs", ns, name, () => Client.BatchV1.ReadNamespacedJobAsync(name, ns, cancellationToken: cancellationToken));
        }
        catch (KubernetesApiException e) when (e.IsNotFound)
        {
            return null;
        }
    }

    private async Task<BuildOutcome> FollowAsync(BuildJob job, string ns, KubernetesBuildNames names, V1Job created, IBuildLogSink log, long started, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(job.Timeout + _options.DeadlineGrace);
        using var jobEnded = new CancellationTokenSource();
        var collector = new LogCollector(log);
        var follower = FollowLogAsync(ns, names, collector, jobEnded.Token, deadline.Token);

        JobEnd end;
        try
        {
            end = await WaitForEndAsync(ns, created, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Kubernetes never reported the deadline (e.g. the pod could not even be scheduled): give up ourselves.
            end = new JobEnd(false, "DeadlineExceeded", "no end reported by Kubernetes within the build timeout");
        }
        catch
        {
            // Cancelled or the API failed: stop reading the log before the objects are deleted.
            await deadline.CancelAsync();
            await follower.ContinueWith(_ => { }, TaskScheduler.Default);
            throw;
        }
        finally
        {
            await jobEnded.CancelAsync();
        }

        try
        {
            await follower.WaitAsync(_options.LogDrainTimeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            _logger.LogWarning("The log of build {BuildId} was still streaming {Timeout} after its Job ended; it may be incomplete", job.BuildId, _options.LogDrainTimeout);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The follower stopped at our own deadline; what it collected is kept.
        }

        var exit = ExitOf(Newest(await ListPodsAsync(ns, names, cancellationToken)));
        var duration = _time.GetElapsedTime(started);
        if (end.Succeeded)
        {
            return new BuildOutcome(true, exit?.ExitCode ?? 0, collector.ImageDigest, null, duration);
        }
        var reason = end.Reason == "DeadlineExceeded"
            ? "timed out"
            : exit is { ExitCode: not 0 } ? $"exit code {exit.ExitCode}" : $"{end.Reason}: {end.Message}".Trim(' ', ':');
        await log.AppendAsync($"Build failed: {reason}\n", cancellationToken);
        return new BuildOutcome(false, exit?.ExitCode, null, reason, duration);
    }

    /// <summary>
    /// Watches the Job from the version it was created (or found) at until it ends. A watch the server closes (after
    /// <see cref="KubernetesBuildOptions.WatchTimeout"/>) is opened again from the last version seen; one that breaks or
    /// reports an error (410 Expired) reads the Job again first; one the server refuses (403, 405) turns into polling.
    /// </summary>
    private async Task<JobEnd> WaitForEndAsync(string ns, V1Job job, CancellationToken cancellationToken)
    {
        var name = job.Metadata.Name;
        if (JobEnd.Of(job) is { } ended)
        {
            return ended;
        }
        var resourceVersion = job.Metadata.ResourceVersion;
        var polling = false;
        while (true)
        {
            if (polling || resourceVersion is null)
            {
                var current = await GetJobAsync(ns, name, cancellationToken) ?? throw Deleted(ns, name);
                if (JobEnd.Of(current) is { } end)
                {
                    return end;
                }
                resourceVersion = current.Metadata.ResourceVersion;
                if (polling)
                {
                    await Task.Delay(_options.PollInterval, _time, cancellationToken);
                    continue;
                }
            }

            Exception? streamError = null;
            var received = 0;
            try
            {
                await foreach (var (type, item) in Client.BatchV1.WatchListNamespacedJobAsync(ns,
                    fieldSelector: $"metadata.name={name}", resourceVersion: resourceVersion, allowWatchBookmarks: true,
                    timeoutSeconds: (int)Math.Max(1, _options.WatchTimeout.TotalSeconds),
                    onError: e => streamError ??= e, cancellationToken: cancellationToken))
                {
                    received++;
                    resourceVersion = item?.Metadata?.ResourceVersion ?? resourceVersion;
                    switch (type)
                    {
                        case WatchEventType.Added or WatchEventType.Modified when JobEnd.Of(item!) is { } end:
                            return end;
                        case WatchEventType.Deleted:
                            throw Deleted(ns, name);
                    }
                }
            }
            catch (HttpOperationException e) when (e.Response?.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.MethodNotAllowed)
            {
                _logger.LogWarning("Not allowed to watch Job {Namespace}/{Job} ({Status}); polling it every {Interval} instead", ns, name, e.Response.StatusCode, _options.PollInterval);
                polling = true;
                continue;
            }
            catch (HttpOperationException e)
            {
                throw KubernetesApiException.From(e, "watch", "jobs", ns, name);
            }
            catch (Exception e) when (e is HttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
            {
                streamError = e;
            }
            if (streamError is not null)
            {
                // Expired (410) or broken: the version may be gone from the server's history; read the Job again.
                _logger.LogDebug("The watch of Job {Namespace}/{Job} ended with {Error}; reading it again", ns, name, streamError.Message);
                resourceVersion = null;
            }
            if (streamError is not null || received == 0)
            {
                // A server that closes watches at once must not be hammered.
                await Task.Delay(_options.PollInterval, _time, cancellationToken);
            }
        }
    }

    /// <summary>Waits for the build container to start, then follows its log to the end.</summary>
    private async Task FollowLogAsync(string ns, KubernetesBuildNames names, LogCollector collector, CancellationToken jobEnded, CancellationToken cancellationToken)
    {
        // Yield first so that the watch request goes out before the first look at the pods.
        await Task.Yield();
        while (true)
        {
            var ended = jobEnded.IsCancellationRequested;
            var pod = Newest(await ListPodsAsync(ns, names, cancellationToken));
            if (pod is not null && ContainerState(pod) is "running" or "terminated")
            {
                try
                {
                    await using var stream = await Client.CoreV1.ReadNamespacedPodLogAsync(pod.Metadata.Name, ns, container: KubernetesBuildNames.ContainerName, follow: true, cancellationToken: cancellationToken);
                    using var reader = new StreamReader(stream, Encoding.UTF8);
                    while (await reader.ReadLineAsync(cancellationToken) is { } line)
                    {
                        await collector.AppendAsync(line, cancellationToken);
                    }
                    return;
                }
                catch (HttpOperationException e) when (e.Response?.StatusCode == HttpStatusCode.BadRequest && !ended)
                {
                    // "container is waiting to start" races with the status we saw: look again.
                }
                catch (HttpOperationException e) when (e.Response?.StatusCode == HttpStatusCode.BadRequest)
                {
                    // The Job ended and the container's log still cannot be read (it never started): nothing to show.
                    await collector.AppendAsync($"[the log of pod {pod.Metadata.Name} could not be read: {KubernetesApiException.From(e, "read the log of", "pods", ns, pod.Metadata.Name).ServerMessage}]", cancellationToken);
                    return;
                }
                catch (HttpOperationException e)
                {
                    // Not allowed (RBAC) or broken: the build cannot be followed, say so rather than report a silent build.
                    throw KubernetesApiException.From(e, "read the log of", "pods", ns, pod.Metadata.Name);
                }
                catch (Exception e) when (e is HttpRequestException or IOException)
                {
                    await collector.AppendAsync($"[the log stream broke: {e.Message}]", cancellationToken);
                    return;
                }
            }
            if (ended)
            {
                return;
            }
            using var either = CancellationTokenSource.CreateLinkedTokenSource(jobEnded, cancellationToken);
            try
            {
                await Task.Delay(_options.PollInterval, _time, either.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The Job ended: one more look at the pod for its log.
            }
        }
    }

    private async Task<IList<V1Pod>> ListPodsAsync(string ns, KubernetesBuildNames names, CancellationToken cancellationToken) =>
        (await CallAsync("list", "pods", ns, null, () => Client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: names.PodSelector, cancellationToken: cancellationToken))).Items;

    /// <summary>
    /// Deletes the Job (its pods in the background), the Secret and the ConfigMap, or the build's folder on the shared
    /// workspace, even after a cancellation.
    /// </summary>
    private async Task CleanUpAsync(string ns, KubernetesBuildNames names)
    {
        using var timeout = new CancellationTokenSource(CleanupTimeout);
        List<(string Resource, string Name, Func<CancellationToken, Task> Delete)> deletions =
        [
            // Without a propagation policy the Job's pods would be orphaned.
            ("jobs", names.Job, ct => Client.BatchV1.DeleteNamespacedJobAsync(names.Job, ns, propagationPolicy: "Background", cancellationToken: ct)),
            ("secrets", names.Secret, ct => Client.CoreV1.DeleteNamespacedSecretAsync(names.Secret, ns, cancellationToken: ct)),
        ];
        if (_options.HasSharedWorkspace)
        {
            Local.BuildFolder.At(Path.Combine(_options.WorkspaceDirectory!, BuildManifests.WorkspaceFolder(names))).Delete(_logger);
        }
        else
        {
            deletions.Add(("configmaps", names.ConfigMap, ct => Client.CoreV1.DeleteNamespacedConfigMapAsync(names.ConfigMap, ns, cancellationToken: ct)));
        }
        foreach (var (resource, name, delete) in deletions)
        {
            try
            {
                await delete(timeout.Token);
            }
            catch (HttpOperationException e) when (e.Response?.StatusCode == HttpStatusCode.NotFound)
            {
                // Already gone.
            }
            catch (Exception e) when (e is HttpOperationException or HttpRequestException or IOException or OperationCanceledException)
            {
                var reason = e is HttpOperationException refused ? KubernetesApiException.From(refused, "delete", resource, ns, name).Message : e.Message;
                _logger.LogWarning("Could not delete {Resource} {Namespace}/{Name} after the build: {Error}", resource, ns, name, reason);
            }
        }
    }

    private static KubernetesApiException Deleted(string ns, string name) =>
        new(HttpStatusCode.NotFound, "NotFound", $"Job {name} was deleted while being watched", "watch", "jobs", ns, name);

    private static V1Pod? Newest(IEnumerable<V1Pod> pods) =>
        pods.OrderByDescending(p => p.Metadata.CreationTimestamp ?? DateTime.MinValue).FirstOrDefault();

    private static V1ContainerStatus? BuildContainerStatus(V1Pod? pod) =>
        pod?.Status?.ContainerStatuses?.FirstOrDefault(s => s.Name == KubernetesBuildNames.ContainerName);

    private static string? ContainerState(V1Pod pod) => BuildContainerStatus(pod)?.State switch
    {
        { Terminated: not null } => "terminated",
        { Running: not null } => "running",
        { Waiting: not null } => "waiting",
        _ => null,
    };

    private static V1ContainerStateTerminated? ExitOf(V1Pod? pod) => BuildContainerStatus(pod)?.State?.Terminated;

    /// <summary>A Job's end as its conditions tell it: <c>Complete</c> or <c>Failed</c> with status True.</summary>
    private sealed record JobEnd(bool Succeeded, string? Reason, string? Message)
    {
        public static JobEnd? Of(V1Job job)
        {
            foreach (var condition in job.Status?.Conditions ?? [])
            {
                if (condition.Status != "True")
                {
                    continue;
                }
                switch (condition.Type)
                {
                    case "Complete":
                        return new JobEnd(true, null, null);
                    case "Failed":
                        return new JobEnd(false, condition.Reason, condition.Message);
                }
            }
            return null;
        }
    }

    /// <summary>Passes log lines on without terminal escapes, and remembers the surest image digest among them.</summary>
    private sealed class LogCollector(IBuildLogSink sink)
    {
        private int _digestRank;

        public string? ImageDigest { get; private set; }

        public ValueTask AppendAsync(string line, CancellationToken cancellationToken)
        {
            var clean = AnsiText.Strip(line).TrimEnd('\r');
            var (rank, digest) = BuildkitLog.DigestIn(clean);
            if (rank >= _digestRank && digest is not null)
            {
                (_digestRank, ImageDigest) = (rank, digest);
            }
            return sink.AppendAsync(clean + "\n", cancellationToken);
        }
    }
}
