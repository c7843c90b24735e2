using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

using Wave.Builder.Kubernetes;
using Wave.Core.Builds;
using Wave.Core.Registry;

namespace Wave.Tests.Builds.Kubernetes;

/// <summary>A log sink that keeps everything, for assertions.</summary>
public sealed class CollectingLogSink : IBuildLogSink
{
    private readonly ConcurrentQueue<string> _parts = new();

    public string Text => string.Concat(_parts);

    public ValueTask AppendAsync(string text, CancellationToken cancellationToken)
    {
        _parts.Enqueue(text);
        return ValueTask.CompletedTask;
    }
}

public sealed class KubernetesBuildBackendTests
{
    private const string Namespace = "wave-builds";
    private const string Token = "sa-token-0123456789";
    private static readonly string PushedDigest = "sha256:" + new string('a', 64);
    private static readonly string ManifestDigest = "sha256:" + new string('b', 64);

    private static BuildJob Job(string buildId = "bd-0123456789abcdef_1", string platform = "linux/arm64", string? cache = "127.0.0.1:5000/wave/cache", TimeSpan? timeout = null) => new()
    {
        BuildId = buildId,
        ContainerId = "0123456789abcdef",
        TargetImage = "127.0.0.1:5000/wave/build:0123456789abcdef",
        Dockerfile = "FROM busybox\nCOPY conda.yml /opt/conda.yml\nRUN echo hello > /greeting\n",
        ContextFiles = new Dictionary<string, string> { ["conda.yml"] = "dependencies: [python]\n", ["scripts/setup.sh"] = "#!/bin/sh\n" },
        Platform = platform,
        CacheRepository = cache,
        CreatedAt = DateTimeOffset.UtcNow,
        Timeout = timeout ?? TimeSpan.FromMinutes(10),
    };

    private static readonly IReadOnlyDictionary<string, RegistryCredentials> Credentials = new Dictionary<string, RegistryCredentials>
    {
        ["127.0.0.1:5000"] = new("pusher", "s3cret-push-password"),
    };

    private static KubernetesBuildOptions Options(Action<KubernetesBuildOptions>? configure = null)
    {
        var options = new KubernetesBuildOptions
        {
            PollInterval = TimeSpan.FromMilliseconds(50),
            LogDrainTimeout = TimeSpan.FromSeconds(5),
            ServiceAccountName = "wave-builder",
            Requests = new() { ["cpu"] = "1", ["memory"] = "2Gi" },
            Limits = new() { ["memory"] = "4Gi" },
            Labels = new() { ["team"] = "platform" },
            NodeSelectors = new() { ["linux/arm64"] = new() { ["kubernetes.io/arch"] = "arm64", ["pool"] = "arm-builders" } },
        };
        configure?.Invoke(options);
        return options;
    }

    private static (KubernetesApiClient Client, KubernetesBuildBackend Backend) Backend(FakeKubernetesApi api, KubernetesBuildOptions? options = null)
    {
        var client = new KubernetesApiClient(new KubernetesConnection { Server = api.Server, Namespace = Namespace, Auth = new BearerTokenAuth(Token) }, TimeSpan.FromSeconds(10));
        return (client, new KubernetesBuildBackend(client, Microsoft.Extensions.Options.Options.Create(options ?? Options())));
    }

    private static int IndexOf(IReadOnlyList<ApiCall> calls, string method, string pathEnd, Func<ApiCall, bool>? where = null)
    {
        for (var i = 0; i < calls.Count; i++)
        {
            if (calls[i].Method == method && calls[i].Path.EndsWith(pathEnd, StringComparison.Ordinal) && (where?.Invoke(calls[i]) ?? true))
            {
                return i;
            }
        }
        Assert.Fail($"no {method} …{pathEnd} among:\n{string.Join('\n', calls)}");
        return -1;
    }

    [Fact]
    public async Task A_build_creates_secret_configmap_and_job_follows_it_and_cleans_up()
    {
        await using var api = await FakeKubernetesApi.StartAsync(Namespace, $"Bearer {Token}");
        api.Script = new PodScript
        {
            LogLines =
            [
                "#1 [internal] load build definition from Dockerfile",
                "\u001b[34m#5 RUN echo hello > /greeting\u001b[0m",
                $"#9 exporting manifest {ManifestDigest} done",
                $"#9 pushing manifest for 127.0.0.1:5000/wave/build:0123456789abcdef@{PushedDigest} 0.1s done",
            ],
        };
        var (client, backend) = Backend(api);
        using var _ = client;
        var log = new CollectingLogSink();

        var outcome = await backend.RunAsync(Job(), Credentials, log, TestContext.Current.CancellationToken);

        Assert.Empty(api.Violations);
        Assert.True(outcome.Succeeded, log.Text);
        Assert.Equal(0, outcome.ExitCode);
        Assert.Null(outcome.FailureReason);
        Assert.Equal(PushedDigest, outcome.ImageDigest);
        Assert.Contains("#5 RUN echo hello > /greeting\n", log.Text);
        Assert.DoesNotContain("\u001b", log.Text);

        var calls = api.Calls;
        var names = KubernetesBuildNames.For("bd-0123456789abcdef_1");
        var createSecret = IndexOf(calls, "POST", $"/api/v1/namespaces/{Namespace}/secrets");
        var createConfigMap = IndexOf(calls, "POST", $"/api/v1/namespaces/{Namespace}/configmaps");
        var createJob = IndexOf(calls, "POST", $"/apis/batch/v1/namespaces/{Namespace}/jobs");
        var watchJob = IndexOf(calls, "GET", $"/apis/batch/v1/namespaces/{Namespace}/jobs", c => c.Query.ContainsKey("watch"));
        var listPods = IndexOf(calls, "GET", $"/api/v1/namespaces/{Namespace}/pods");
        var readLog = IndexOf(calls, "GET", "/log");
        var deleteJob = IndexOf(calls, "DELETE", $"/jobs/{names.Job}");
        var deleteSecret = IndexOf(calls, "DELETE", $"/secrets/{names.Secret}");
        var deleteConfigMap = IndexOf(calls, "DELETE", $"/configmaps/{names.ConfigMap}");
        // Secret and ConfigMap exist before the Job that mounts them; the Job is then watched while, at the same time
        // (so in either order), its pod is found and its log followed; everything is deleted once the Job has ended.
        Assert.True(createSecret < createConfigMap && createConfigMap < createJob, string.Join('\n', calls));
        Assert.True(createJob < watchJob && createJob < listPods && listPods < readLog, string.Join('\n', calls));
        Assert.True(Math.Max(watchJob, readLog) < deleteJob && deleteJob < deleteSecret && deleteSecret < deleteConfigMap, string.Join('\n', calls));
        Assert.All(calls, c => Assert.Equal($"Bearer {Token}", c.Authorization));
        Assert.False(api.Exists("jobs", names.Job));
        Assert.False(api.Exists("secrets", names.Secret));
        Assert.False(api.Exists("configmaps", names.ConfigMap));

        var watch = calls[watchJob];
        Assert.Equal($"metadata.name={names.Job}", watch.Query["fieldSelector"]);
        Assert.Equal(calls[createJob].Body!["metadata"]!["name"]!.ToString(), names.Job);
        Assert.Equal(KubernetesBuildNames.BuildIdLabelKey + "=bd-0123456789abcdef_1", calls[listPods].Query["labelSelector"]);
        Assert.Equal("build", calls[readLog].Query["container"]);
        Assert.Equal("true", calls[readLog].Query["follow"]);

        // The Secret is a docker config with the push login.
        var secret = calls[createSecret].Body!;
        var dockerConfig = JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(secret["data"]![".dockerconfigjson"]!.ToString())))!;
        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes("pusher:s3cret-push-password")), dockerConfig["auths"]!["127.0.0.1:5000"]!["auth"]!.ToString());

        // The ConfigMap carries the Dockerfile and the context files.
        var configMap = calls[createConfigMap].Body!;
        Assert.Equal(Job().Dockerfile, configMap["data"]!["Dockerfile"]!.ToString());
        Assert.Contains(configMap["data"]!.AsObject(), p => p.Value!.ToString() == "dependencies: [python]\n");

        // The Job runs BuildKit for the platform, with the recipe and the credentials mounted.
        var spec = calls[createJob].Body!["spec"]!;
        Assert.Equal(0, spec["backoffLimit"]!.GetValue<int>());
        Assert.Equal(600, spec["activeDeadlineSeconds"]!.GetValue<long>());
        var pod = spec["template"]!["spec"]!;
        Assert.Equal("Never", pod["restartPolicy"]!.ToString());
        Assert.Equal("wave-builder", pod["serviceAccountName"]!.ToString());
        Assert.Equal("arm-builders", pod["nodeSelector"]!["pool"]!.ToString());
        Assert.Equal("arm64", pod["nodeSelector"]!["kubernetes.io/arch"]!.ToString());
        Assert.Equal("bd-0123456789abcdef_1", spec["template"]!["metadata"]!["labels"]![KubernetesBuildNames.BuildIdLabelKey]!.ToString());
        Assert.Equal("unconfined", spec["template"]!["metadata"]!["annotations"]!["container.apparmor.security.beta.kubernetes.io/build"]!.ToString());
        var container = pod["containers"]![0]!;
        Assert.Equal("moby/buildkit:v0.16.0-rootless", container["image"]!.ToString());
        Assert.Equal(["buildctl-daemonless.sh"], container["command"]!.AsArray().Select(a => a!.ToString()));
        var args = container["args"]!.AsArray().Select(a => a!.ToString()).ToList();
        Assert.Contains("platform=linux/arm64", args);
        Assert.Contains("type=image,name=127.0.0.1:5000/wave/build:0123456789abcdef,push=true", args);
        Assert.Contains("type=registry,ref=127.0.0.1:5000/wave/cache,mode=max", args);
        Assert.Contains("context=/workspace", args);
        Assert.Equal("Unconfined", container["securityContext"]!["seccompProfile"]!["type"]!.ToString());
        Assert.Equal("2Gi", container["resources"]!["requests"]!["memory"]!.ToString());
        var env = container["env"]!.AsArray().ToDictionary(e => e!["name"]!.ToString(), e => e!["value"]!.ToString());
        Assert.Equal("/home/user/.docker", env["DOCKER_CONFIG"]);
        var mounts = container["volumeMounts"]!.AsArray().ToDictionary(m => m!["mountPath"]!.ToString(), m => m!["name"]!.ToString());
        var volumes = pod["volumes"]!.AsArray().ToDictionary(v => v!["name"]!.ToString(), v => v!.AsObject());
        Assert.Equal(names.ConfigMap, volumes[mounts["/workspace"]]["configMap"]!["name"]!.ToString());
        Assert.Equal(names.Secret, volumes[mounts["/home/user/.docker"]]["secret"]!["secretName"]!.ToString());
        Assert.Equal("config.json", volumes[mounts["/home/user/.docker"]]["secret"]!["items"]![0]!["path"]!.ToString());
        Assert.Contains(volumes[mounts["/workspace"]]["configMap"]!["items"]!.AsArray(), i => i!["path"]!.ToString() == "scripts/setup.sh");

        // No secret leaks into what the build shows.
        Assert.DoesNotContain("s3cret-push-password", log.Text);
    }

    [Fact]
    public async Task A_freeze_ships_its_layers_as_configmap_binary_data_mounted_next_to_the_dockerfile()
    {
        await using var api = await FakeKubernetesApi.StartAsync(Namespace, $"Bearer {Token}");
        api.Script = new PodScript { LogLines = [$"#9 pushing manifest for 127.0.0.1:5000/wave/build:0123456789abcdef@{PushedDigest} 0.1s done"] };
        var (client, backend) = Backend(api);
        using var _ = client;
        byte[] layer = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0, 0xff];
        var job = Job() with
        {
            Dockerfile = "FROM busybox\nADD layer-0.tar.gz /\n",
            BinaryContextFiles = new Dictionary<string, byte[]> { ["layer-0.tar.gz"] = layer },
        };

        var outcome = await backend.RunAsync(job, Credentials, new CollectingLogSink(), TestContext.Current.CancellationToken);

        Assert.Empty(api.Violations);
        Assert.True(outcome.Succeeded);
        var configMap = api.Calls[IndexOf(api.Calls, "POST", $"/api/v1/namespaces/{Namespace}/configmaps")].Body!;
        var binary = Assert.Single(configMap["binaryData"]!.AsObject());
        Assert.Equal(layer, Convert.FromBase64String(binary.Value!.ToString()));
        var jobBody = api.Calls[IndexOf(api.Calls, "POST", $"/apis/batch/v1/namespaces/{Namespace}/jobs")].Body!;
        var items = jobBody["spec"]!["template"]!["spec"]!["volumes"]!.AsArray()
            .Single(v => v!["configMap"] is not null)!["configMap"]!["items"]!.AsArray();
        Assert.Contains(items, i => i!["key"]!.ToString() == binary.Key && i["path"]!.ToString() == "layer-0.tar.gz");
    }

    [Fact]
    public async Task A_job_with_unfetched_remote_layers_is_refused_before_anything_is_created()
    {
        await using var api = await FakeKubernetesApi.StartAsync(Namespace, $"Bearer {Token}");
        var (client, backend) = Backend(api);
        using var _ = client;
        var job = Job() with { RemoteLayers = [new RemoteLayer("layer-0.tar.gz", new Uri("https://layers.example/l.tar.gz"), "sha256:" + new string('a', 64), 10)] };
        var log = new CollectingLogSink();

        var outcome = await backend.RunAsync(job, Credentials, log, TestContext.Current.CancellationToken);

        Assert.False(outcome.Succeeded);
        Assert.Contains("has not been fetched", outcome.FailureReason, StringComparison.Ordinal);
        Assert.DoesNotContain(api.Calls, c => c.Method == "POST");
    }

    [Fact]
    public async Task A_failed_pod_ends_the_build_failed_with_its_exit_code_and_log()
    {
        await using var api = await FakeKubernetesApi.StartAsync(Namespace, $"Bearer {Token}");
        api.Script = new PodScript
        {
            ExitCode = 1,
            LogLines = ["#5 [2/2] RUN exit 1", "ERROR: process \"/bin/sh -c exit 1\" did not complete successfully: exit code: 1"],
        };
        var (client, backend) = Backend(api);
        using var _ = client;
        var log = new CollectingLogSink();

        var outcome = await backend.RunAsync(Job(cache: null, platform: "linux/amd64"), Credentials, log, TestContext.Current.CancellationToken);

        Assert.Empty(api.Violations);
        Assert.False(outcome.Succeeded);
        Assert.Equal(1, outcome.ExitCode);
        Assert.Equal("exit code 1", outcome.FailureReason);
        Assert.Null(outcome.ImageDigest);
        Assert.Contains("did not complete successfully", log.Text);
        var jobBody = api.Calls.First(c => c.Method == "POST" && c.Path.EndsWith("/jobs", StringComparison.Ordinal)).Body!;
        Assert.Equal("amd64", jobBody["spec"]!["template"]!["spec"]!["nodeSelector"]!["kubernetes.io/arch"]!.ToString());
        Assert.DoesNotContain(jobBody["spec"]!["template"]!["spec"]!["containers"]![0]!["args"]!.AsArray(), a => a!.ToString().Contains("cache", StringComparison.Ordinal));
        var names = KubernetesBuildNames.For(Job().BuildId);
        Assert.False(api.Exists("jobs", names.Job));
        Assert.False(api.Exists("secrets", names.Secret));
        Assert.False(api.Exists("configmaps", names.ConfigMap));
    }

    [Fact]
    public async Task A_job_past_its_deadline_ends_timed_out()
    {
        await using var api = await FakeKubernetesApi.StartAsync(Namespace, $"Bearer {Token}");
        api.Script = new PodScript { ExitCode = 137, FailedReason = "DeadlineExceeded", LogLines = ["#5 RUN sleep 3600"] };
        var (client, backend) = Backend(api);
        using var _ = client;
        var log = new CollectingLogSink();

        var outcome = await backend.RunAsync(Job(timeout: TimeSpan.FromSeconds(30)), Credentials, log, TestContext.Current.CancellationToken);

        Assert.Empty(api.Violations);
        Assert.False(outcome.Succeeded);
        Assert.Equal("timed out", outcome.FailureReason);
        Assert.Contains("#5 RUN sleep 3600", log.Text);
        Assert.Equal(30, api.Calls.First(c => c.Method == "POST" && c.Path.EndsWith("/jobs", StringComparison.Ordinal)).Body!["spec"]!["activeDeadlineSeconds"]!.GetValue<long>());
    }

    [Fact]
    public async Task A_job_kubernetes_never_ends_is_timed_out_by_wave_and_still_deleted()
    {
        await using var api = await FakeKubernetesApi.StartAsync(Namespace, $"Bearer {Token}");
        api.Script = new PodScript { Hangs = true, LogLines = ["#1 waiting forever"] };
        var (client, backend) = Backend(api, Options(o => o.DeadlineGrace = TimeSpan.FromMilliseconds(200)));
        using var _ = client;
        var log = new CollectingLogSink();

        var outcome = await backend.RunAsync(Job(timeout: TimeSpan.FromSeconds(1)), Credentials, log, TestContext.Current.CancellationToken);

        Assert.Empty(api.Violations);
        Assert.False(outcome.Succeeded);
        Assert.Equal("timed out", outcome.FailureReason);
        Assert.InRange(outcome.Duration, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(15));
        Assert.Contains("#1 waiting forever", log.Text);
        Assert.False(api.Exists("jobs", KubernetesBuildNames.For(Job().BuildId).Job));
    }

    [Fact]
    public async Task A_restarted_builder_reuses_the_existing_job_and_replaces_secret_and_configmap()
    {
        await using var api = await FakeKubernetesApi.StartAsync(Namespace, $"Bearer {Token}");
        api.Script = new PodScript { RunFor = TimeSpan.FromMilliseconds(600), LogLines = [$"#9 exporting manifest {ManifestDigest} done"] };
        var (client, backend) = Backend(api);
        using var _ = client;
        var job = Job();
        var names = KubernetesBuildNames.For(job.BuildId);
        var options = Options();
        // What the builder that died had already created.
        await client.CreateAsync(KubernetesResource.Secrets, Namespace, BuildManifests.Secret(names, Namespace, job, Credentials, options), TestContext.Current.CancellationToken);
        await client.CreateAsync(KubernetesResource.ConfigMaps, Namespace, BuildManifests.ConfigMap(names, Namespace, job, options), TestContext.Current.CancellationToken);
        await client.CreateAsync(KubernetesResource.Jobs, Namespace, BuildManifests.Job(names, Namespace, job, options), TestContext.Current.CancellationToken);

        var outcome = await backend.RunAsync(job, Credentials, new CollectingLogSink(), TestContext.Current.CancellationToken);

        Assert.Empty(api.Violations);
        Assert.True(outcome.Succeeded);
        Assert.Equal(ManifestDigest, outcome.ImageDigest);
        var calls = api.Calls;
        Assert.Single(calls, c => c.Method == "PUT" && c.Path.EndsWith($"/secrets/{names.Secret}", StringComparison.Ordinal));
        Assert.Single(calls, c => c.Method == "PUT" && c.Path.EndsWith($"/configmaps/{names.ConfigMap}", StringComparison.Ordinal));
        Assert.Equal(2, calls.Count(c => c.Method == "POST" && c.Path.EndsWith("/jobs", StringComparison.Ordinal)));
        Assert.Single(calls, c => c.Method == "GET" && c.Path.EndsWith($"/jobs/{names.Job}", StringComparison.Ordinal));
        Assert.False(api.Exists("jobs", names.Job));
    }

    [Fact]
    public async Task A_forbidden_create_fails_with_a_message_naming_namespace_and_resource()
    {
        await using var api = await FakeKubernetesApi.StartAsync(Namespace, $"Bearer {Token}");
        api.Intercept = call => call.Method == "POST" && call.Path.EndsWith("/secrets", StringComparison.Ordinal)
            ? Results.Json(FakeKubernetesApi.Status(403, "Forbidden", $"secrets is forbidden: User \"system:serviceaccount:wave:builder\" cannot create resource \"secrets\" in API group \"\" in the namespace \"{Namespace}\""), statusCode: 403)
            : null;
        var (client, backend) = Backend(api);
        using var _ = client;

        var error = await Assert.ThrowsAsync<KubernetesApiException>(() => backend.RunAsync(Job(), Credentials, new CollectingLogSink(), TestContext.Current.CancellationToken));

        Assert.Equal(HttpStatusCode.Forbidden, error.StatusCode);
        Assert.Equal("Forbidden", error.Reason);
        Assert.Contains($"create secrets/{KubernetesBuildNames.For(Job().BuildId).Secret} in namespace '{Namespace}'", error.Message);
        Assert.Contains("cannot create resource", error.Message);
        Assert.Contains("RBAC", error.Message);
        Assert.DoesNotContain(api.Calls, c => c.Method == "POST" && c.Path.EndsWith("/jobs", StringComparison.Ordinal));
        Assert.Empty(api.Violations);
    }

    [Fact]
    public async Task A_dropped_watch_is_reestablished_from_the_last_resource_version()
    {
        await using var api = await FakeKubernetesApi.StartAsync(Namespace, $"Bearer {Token}");
        api.Script = new PodScript { DropFirstWatch = true, StartAfter = TimeSpan.FromMilliseconds(200), RunFor = TimeSpan.FromMilliseconds(400) };
        var (client, backend) = Backend(api);
        using var _ = client;

        var outcome = await backend.RunAsync(Job(), Credentials, new CollectingLogSink(), TestContext.Current.CancellationToken);

        Assert.True(outcome.Succeeded);
        Assert.Empty(api.Violations);
        var watches = api.Calls.Where(c => c.Query.ContainsKey("watch")).ToList();
        Assert.True(watches.Count >= 2, string.Join('\n', api.Calls));
        Assert.All(watches, w => Assert.True(long.Parse(w.Query["resourceVersion"]) > 100));
        Assert.True(long.Parse(watches[1].Query["resourceVersion"]) > long.Parse(watches[0].Query["resourceVersion"]), "the second watch starts after the event the first one delivered");
    }

    [Fact]
    public async Task A_refused_watch_falls_back_to_polling_the_job()
    {
        await using var api = await FakeKubernetesApi.StartAsync(Namespace, $"Bearer {Token}");
        api.Intercept = call => call.Query.ContainsKey("watch")
            ? Results.Json(FakeKubernetesApi.Status(403, "Forbidden", "jobs.batch is forbidden: cannot watch resource \"jobs\""), statusCode: 403)
            : null;
        // The Job stays unfinished for many poll intervals (50 ms), however loaded the machine, so that finishing the
        // build takes repeated polls rather than one lucky read of an already completed Job.
        api.Script = new PodScript { StartAfter = TimeSpan.FromMilliseconds(200), RunFor = TimeSpan.FromSeconds(3) };
        var (client, backend) = Backend(api);
        using var _ = client;

        var outcome = await backend.RunAsync(Job(), Credentials, new CollectingLogSink(), TestContext.Current.CancellationToken);

        Assert.True(outcome.Succeeded);
        Assert.Empty(api.Violations);
        Assert.True(api.Calls.Count(c => c.Method == "GET" && c.Path.EndsWith($"/jobs/{KubernetesBuildNames.For(Job().BuildId).Job}", StringComparison.Ordinal)) >= 2);
    }

    [Fact]
    public async Task A_recipe_too_large_for_a_configmap_fails_without_touching_the_cluster()
    {
        await using var api = await FakeKubernetesApi.StartAsync(Namespace, $"Bearer {Token}");
        var (client, backend) = Backend(api);
        using var _ = client;
        var job = Job() with { ContextFiles = new Dictionary<string, string> { ["big.txt"] = new string('x', 1_100_000) } };

        var outcome = await backend.RunAsync(job, Credentials, new CollectingLogSink(), TestContext.Current.CancellationToken);

        Assert.False(outcome.Succeeded);
        Assert.Contains("ConfigMap", outcome.FailureReason);
        Assert.DoesNotContain(api.Calls, c => c.Method == "POST");
    }

    [Fact]
    public async Task A_cancelled_build_still_deletes_its_objects()
    {
        await using var api = await FakeKubernetesApi.StartAsync(Namespace, $"Bearer {Token}");
        api.Script = new PodScript { Hangs = true };
        var (client, backend) = Backend(api);
        using var _ = client;
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var names = KubernetesBuildNames.For(Job().BuildId);
        var build = backend.RunAsync(Job(), Credentials, new CollectingLogSink(), cancel.Token);
        // Cancel once the build is running in the cluster.
        for (var waited = 0; !api.Calls.Any(c => c.Query.ContainsKey("watch")) && waited < 200; waited++)
        {
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
        Assert.True(api.Exists("jobs", names.Job), "the Job was created before the cancellation");
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => build);

        Assert.False(api.Exists("jobs", names.Job));
        Assert.False(api.Exists("secrets", names.Secret));
        Assert.False(api.Exists("configmaps", names.ConfigMap));
        Assert.Empty(api.Violations);
    }

    [Fact]
    public async Task An_expired_watch_lists_the_job_again_and_watches_from_there()
    {
        await using var api = await FakeKubernetesApi.StartAsync(Namespace, $"Bearer {Token}");
        var expiredOnce = 0;
        api.Intercept = call => call.Query.ContainsKey("watch") && Interlocked.Exchange(ref expiredOnce, 1) == 0
            ? Results.Text(new JsonObject { ["type"] = "ERROR", ["object"] = FakeKubernetesApi.Status(410, "Expired", "too old resource version: 1 (2)") }.ToJsonString() + "\n", "application/json")
            : null;
        var (client, backend) = Backend(api);
        using var _ = client;

        var outcome = await backend.RunAsync(Job(), Credentials, new CollectingLogSink(), TestContext.Current.CancellationToken);

        Assert.True(outcome.Succeeded);
        Assert.Empty(api.Violations);
        var calls = api.Calls;
        var job = KubernetesBuildNames.For(Job().BuildId).Job;
        var watches = Enumerable.Range(0, calls.Count).Where(i => calls[i].Query.ContainsKey("watch")).ToList();
        var relist = IndexOf(calls, "GET", $"/jobs/{job}");
        Assert.True(watches.Count >= 2 && watches[0] < relist && relist < watches[1], string.Join('\n', calls));
    }
}
