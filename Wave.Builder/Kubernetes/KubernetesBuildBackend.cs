using System.Diagnostics;
using System.Text.Json.Nodes;

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

using Wave.Core.Builds;
using Wave.Core.Registry;

namespace Wave.Builder.Kubernetes;

/// <summary>
/// Runs a build as one Kubernetes Job: a Secret with the push credentials, a ConfigMap with the recipe, a Job that
/// runs the builder image (BuildKit rootless by default) with both mounted. Watches the Job to its end, streams the
/// pod's log into the sink, and deletes all three objects afterwards, whatever happened.
/// </summary>
/// <remarks>
/// A builder restarted in the middle of a build runs the same buildId again. Object names derive from the buildId,
/// so the second run meets 409 AlreadyExists: the Secret and ConfigMap are replaced (credentials may have rotated),
/// and the Job — whose pod template cannot change — is reused: the second run follows the pod the first one started
/// instead of building twice.
/// </remarks>
public sealed class KubernetesBuildBackend(
    KubernetesApiClient client,
    IOptions<KubernetesBuildOptions> options,
    ILogger<KubernetesBuildBackend>? logger = null,
    TimeProvider? timeProvider = null) : IBuildBackend
{
    private static readonly TimeSpan CleanupTimeout = TimeSpan.FromSeconds(30);
    private readonly KubernetesBuildOptions _options = options.Value;
    private readonly ILogger _logger = logger ?? NullLogger<KubernetesBuildBackend>.Instance;
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    public string Namespace => _options.Namespace is { Length: > 0 } ns ? ns : client.Connection.Namespace;

    public async Task<BuildOutcome> RunAsync(BuildJob job, IReadOnlyDictionary<string, RegistryCredentials> pushCredentials, IBuildLogSink log, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var ns = Namespace;
        var names = KubernetesBuildNames.For(job.BuildId);
        JsonObject secret, configMap, jobManifest;
        try
        {
            secret = BuildManifests.Secret(names, ns, job, pushCredentials, _options);
            configMap = BuildManifests.ConfigMap(names, ns, job, _options);
            jobManifest = BuildManifests.Job(names, ns, job, _options);
        }
        catch (BuildContextException e)
        {
            await log.AppendAsync($"Cannot run the build on Kubernetes: {e.Message}\n", cancellationToken);
            return new BuildOutcome(false, null, null, e.Message, _time.GetElapsedTime(started));
        }

        try
        {
            await client.CreateOrReplaceAsync(KubernetesResource.Secrets, ns, secret, cancellationToken);
            await client.CreateOrReplaceAsync(KubernetesResource.ConfigMaps, ns, configMap, cancellationToken);
            var (created, isNew) = await client.CreateOrGetAsync(KubernetesResource.Jobs, ns, jobManifest, cancellationToken);
            _logger.LogInformation("Build {BuildId} runs as Kubernetes Job {Namespace}/{Job}{Reused}", job.BuildId, ns, names.Job, isNew ? "" : " (reusing the existing Job)");
            return await FollowAsync(job, ns, names, created, log, started, cancellationToken);
        }
        finally
        {
            await CleanUpAsync(ns, names);
        }
    }

    private async Task<BuildOutcome> FollowAsync(BuildJob job, string ns, KubernetesBuildNames names, JsonObject created, IBuildLogSink log, long started, CancellationToken cancellationToken)
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

        var exit = await ExitOfBuildContainerAsync(ns, names, cancellationToken);
        var duration = _time.GetElapsedTime(started);
        if (end.Succeeded)
        {
            return new BuildOutcome(true, exit?.Code ?? 0, collector.ImageDigest, null, duration);
        }
        var reason = end.Reason == "DeadlineExceeded"
            ? "timed out"
            : exit is { Code: not 0 } ? $"exit code {exit.Code}" : $"{end.Reason}: {end.Message}".Trim(' ', ':');
        await log.AppendAsync($"Build failed: {reason}\n", cancellationToken);
        return new BuildOutcome(false, exit?.Code, null, reason, duration);
    }

    private async Task<JobEnd> WaitForEndAsync(string ns, JsonObject created, CancellationToken cancellationToken)
    {
        await foreach (var job in client.ObserveAsync(KubernetesResource.Jobs, ns, created, _options.PollInterval, cancellationToken))
        {
            if (JobEnd.Of(job) is { } end)
            {
                return end;
            }
        }
        throw new UnreachableException("ObserveAsync only ends by throwing.");
    }

    /// <summary>Waits for the build container to start, then follows its log to the end.</summary>
    private async Task FollowLogAsync(string ns, KubernetesBuildNames names, LogCollector collector, CancellationToken jobEnded, CancellationToken cancellationToken)
    {
        // Yield first so that the watch request goes out before the first look at the pods.
        await Task.Yield();
        while (true)
        {
            var ended = jobEnded.IsCancellationRequested;
            var pod = Newest(await client.ListPodsAsync(ns, names.PodSelector, cancellationToken));
            if (pod is not null && ContainerState(pod) is "running" or "terminated")
            {
                var podName = pod["metadata"]!["name"]!.GetValue<string>();
                try
                {
                    await foreach (var line in client.ReadLogAsync(ns, podName, KubernetesBuildNames.ContainerName, follow: true, cancellationToken))
                    {
                        await collector.AppendAsync(line, cancellationToken);
                    }
                    return;
                }
                catch (KubernetesApiException e) when (e.StatusCode == System.Net.HttpStatusCode.BadRequest && !ended)
                {
                    // "container is waiting to start" races with the status we saw: look again.
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

    private async Task<ContainerExit?> ExitOfBuildContainerAsync(string ns, KubernetesBuildNames names, CancellationToken cancellationToken)
    {
        var pod = Newest(await client.ListPodsAsync(ns, names.PodSelector, cancellationToken));
        var terminated = BuildContainerStatus(pod)?["state"]?["terminated"];
        return terminated?["exitCode"] is JsonValue code && code.TryGetValue<int>(out var exitCode)
            ? new ContainerExit(exitCode, terminated["reason"]?.GetValue<string>())
            : null;
    }

    /// <summary>Deletes the Job (its pods in the background), the Secret and the ConfigMap, even after a cancellation.</summary>
    private async Task CleanUpAsync(string ns, KubernetesBuildNames names)
    {
        using var timeout = new CancellationTokenSource(CleanupTimeout);
        foreach (var (resource, name, propagation) in new[]
        {
            (KubernetesResource.Jobs, names.Job, (string?)"Background"),
            (KubernetesResource.Secrets, names.Secret, null),
            (KubernetesResource.ConfigMaps, names.ConfigMap, null),
        })
        {
            try
            {
                await client.DeleteAsync(resource, ns, name, propagation, timeout.Token);
            }
            catch (Exception e) when (e is KubernetesApiException or HttpRequestException or TimeoutException or OperationCanceledException)
            {
                _logger.LogWarning("Could not delete {Kind} {Namespace}/{Name} after the build: {Error}", resource.Kind, ns, name, e.Message);
            }
        }
    }

    private static JsonObject? Newest(IReadOnlyList<JsonObject> pods) =>
        pods.OrderByDescending(p => p["metadata"]?["creationTimestamp"]?.GetValue<string>() ?? "", StringComparer.Ordinal).FirstOrDefault();

    private static JsonObject? BuildContainerStatus(JsonObject? pod) =>
        (pod?["status"]?["containerStatuses"] as JsonArray)?.OfType<JsonObject>()
            .FirstOrDefault(s => s["name"]?.GetValue<string>() == KubernetesBuildNames.ContainerName);

    private static string? ContainerState(JsonObject pod) =>
        (BuildContainerStatus(pod)?["state"] as JsonObject)?.Select(p => p.Key).FirstOrDefault(k => k is "running" or "terminated" or "waiting");

    private sealed record ContainerExit(int Code, string? Reason);

    /// <summary>A Job's end as its conditions tell it: <c>Complete</c> or <c>Failed</c> with status True.</summary>
    private sealed record JobEnd(bool Succeeded, string? Reason, string? Message)
    {
        public static JobEnd? Of(JsonObject job)
        {
            var conditions = (job["status"]?["conditions"] as JsonArray)?.OfType<JsonObject>() ?? [];
            foreach (var condition in conditions)
            {
                if (condition["status"]?.GetValue<string>() != "True")
                {
                    continue;
                }
                switch (condition["type"]?.GetValue<string>())
                {
                    case "Complete":
                        return new JobEnd(true, null, null);
                    case "Failed":
                        return new JobEnd(false, condition["reason"]?.GetValue<string>(), condition["message"]?.GetValue<string>());
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
