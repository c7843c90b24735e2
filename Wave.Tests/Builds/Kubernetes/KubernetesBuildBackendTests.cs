using System.Net;
using System.Text;
using System.Text.Json.Nodes;

using k8s;
using k8s.Models;

using Wave.Builder.Kubernetes;
using Wave.Core.Builds;
using Wave.Core.Registry;
using Wave.Tests.Infrastructure.Kubernetes;

namespace Wave.Tests.Builds.Kubernetes;

/// <summary>
/// The Kubernetes build backend against the suite's real API server and controller manager: the Job controller makes
/// the pods, the test kubelet runs them as each test scripts, RBAC is the server's.
/// </summary>
public sealed class KubernetesBuildBackendTests(KubernetesFixture kube)
{
    private const string Password = "s3cret-push-password";
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

    private static IReadOnlyDictionary<string, RegistryCredentials> Credentials(string password = Password) => new Dictionary<string, RegistryCredentials>
    {
        ["127.0.0.1:5000"] = new("pusher", password),
    };

    private static KubernetesBuildOptions Options(Action<KubernetesBuildOptions>? configure = null)
    {
        var options = new KubernetesBuildOptions
        {
            PollInterval = TimeSpan.FromMilliseconds(100),
            LogDrainTimeout = TimeSpan.FromSeconds(10),
            Requests = new() { ["cpu"] = "1", ["memory"] = "2Gi" },
            Limits = new() { ["memory"] = "4Gi" },
            Labels = new() { ["team"] = "platform" },
        };
        configure?.Invoke(options);
        return options;
    }

    [Fact]
    public async Task A_build_runs_as_one_job_on_a_node_of_its_arch_streams_its_log_and_leaves_nothing_behind()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        var release = new TaskCompletionSource();
        await using var pods = ns.Server.Kubelet.Run(ns.Name, new PodScript
        {
            Lines =
            [
                "#1 [internal] load build definition from Dockerfile",
                "\u001b[34m#5 RUN echo hello > /greeting\u001b[0m",
                $"#9 exporting manifest {ManifestDigest} done",
                $"#9 pushing manifest for 127.0.0.1:5000/wave/build:0123456789abcdef@{PushedDigest} 0.1s done",
            ],
            Until = release.Task,
        });
        var backend = ns.Backend(Options());
        var log = new CollectingLogSink();
        var job = Job();

        var build = backend.RunAsync(job, Credentials(), log, TestContext.Current.CancellationToken);

        // While it runs: what the server holds.
        var pod = await pods.WaitForRunningPodAsync();
        var (created, secret, configMap, _) = await ns.ObjectsOfAsync(job.BuildId);
        release.SetResult();
        var outcome = await build;

        Assert.True(outcome.Succeeded, log.Text);
        Assert.Equal(0, outcome.ExitCode);
        Assert.Null(outcome.FailureReason);
        Assert.Equal(PushedDigest, outcome.ImageDigest);
        Assert.Contains("#5 RUN echo hello > /greeting\n", log.Text);
        Assert.DoesNotContain("\u001b", log.Text);
        Assert.Equal(1, ns.Server.Kubelet.LogRequests(ns.Name, pod.Metadata.Name));
        Assert.Empty(pods.Errors);

        // One Job, named after the build, whose one pod the Job controller made and the arm64 node ran.
        var names = KubernetesBuildNames.For(job.BuildId);
        Assert.NotNull(created);
        Assert.Equal(names.Job, created.Metadata.Name);
        Assert.Equal(names.Job, Assert.Single(pods.Pods.Values).Metadata.Labels["job-name"]);
        Assert.Equal(TestKubelet.Arm64Node, pods.NodeOf(pod.Metadata.Name));
        var spec = created.Spec;
        Assert.Equal(0, spec.BackoffLimit);
        Assert.Equal(600, spec.ActiveDeadlineSeconds);
        Assert.Equal("Never", spec.Template.Spec.RestartPolicy);
        Assert.False(spec.Template.Spec.AutomountServiceAccountToken);
        Assert.Equal(job.BuildId, pod.Metadata.Labels[KubernetesBuildNames.BuildIdLabelKey]);
        Assert.Equal("platform", pod.Metadata.Labels["team"]);
        Assert.Equal("unconfined", pod.Metadata.Annotations["container.apparmor.security.beta.kubernetes.io/build"]);
        var container = Assert.Single(pod.Spec.Containers);
        Assert.Equal("moby/buildkit:v0.16.0-rootless", container.Image);
        Assert.Equal(["buildctl-daemonless.sh"], container.Command);
        Assert.Contains("platform=linux/arm64", container.Args);
        Assert.Contains("type=image,name=127.0.0.1:5000/wave/build:0123456789abcdef,push=true", container.Args);
        Assert.Contains("type=registry,ref=127.0.0.1:5000/wave/cache,mode=max", container.Args);
        Assert.Contains("context=/workspace", container.Args);
        Assert.Equal("Unconfined", container.SecurityContext.SeccompProfile.Type);
        Assert.Equal("2Gi", container.Resources.Requests["memory"].ToString());
        Assert.Equal("/home/user/.docker", container.Env.Single(e => e.Name == "DOCKER_CONFIG").Value);
        var volumes = pod.Spec.Volumes.ToDictionary(v => v.Name);
        var mounts = container.VolumeMounts.ToDictionary(m => m.MountPath, m => volumes[m.Name]);
        Assert.Equal(names.ConfigMap, mounts["/workspace"].ConfigMap.Name);
        Assert.Contains(mounts["/workspace"].ConfigMap.Items, i => i.Path == "scripts/setup.sh");
        Assert.Equal(names.Secret, mounts["/home/user/.docker"].Secret.SecretName);
        Assert.Equal("config.json", Assert.Single(mounts["/home/user/.docker"].Secret.Items).Path);

        // The recipe is in the ConfigMap, the push login in the Secret and nowhere else.
        Assert.NotNull(configMap);
        Assert.Equal(job.Dockerfile, configMap.Data["Dockerfile"]);
        Assert.Contains(configMap.Data, p => p.Value == "dependencies: [python]\n");
        Assert.NotNull(secret);
        Assert.Equal("kubernetes.io/dockerconfigjson", secret.Type);
        var dockerConfig = JsonNode.Parse(secret.Data[".dockerconfigjson"])!;
        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes($"pusher:{Password}")), dockerConfig["auths"]!["127.0.0.1:5000"]!["auth"]!.GetValue<string>());
        Assert.DoesNotContain(Password, KubernetesJson.Serialize(created));
        Assert.DoesNotContain(Password, KubernetesJson.Serialize(configMap));
        Assert.DoesNotContain(Password, log.Text);

        await ns.AssertBuildObjectsGoneAsync(job.BuildId);
    }

    [Fact]
    public async Task A_freeze_ships_its_layers_as_configmap_binary_data_mounted_next_to_the_dockerfile()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        var release = new TaskCompletionSource();
        await using var pods = ns.Server.Kubelet.Run(ns.Name, new PodScript { Lines = [$"#9 pushing manifest for x@{PushedDigest} 0.1s done"], Until = release.Task });
        byte[] layer = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0, 0xff];
        var job = Job() with
        {
            Dockerfile = "FROM busybox\nADD layer-0.tar.gz /\n",
            BinaryContextFiles = new Dictionary<string, byte[]> { ["layer-0.tar.gz"] = layer },
        };

        var build = ns.Backend(Options()).RunAsync(job, Credentials(), new CollectingLogSink(), TestContext.Current.CancellationToken);
        var pod = await pods.WaitForRunningPodAsync();
        var configMap = (await ns.ObjectsOfAsync(job.BuildId)).ConfigMap!;
        release.SetResult();
        var outcome = await build;

        Assert.True(outcome.Succeeded);
        var binary = Assert.Single(configMap.BinaryData);
        Assert.Equal(layer, binary.Value);
        var items = pod.Spec.Volumes.Single(v => v.ConfigMap is not null).ConfigMap.Items;
        Assert.Contains(items, i => i.Key == binary.Key && i.Path == "layer-0.tar.gz");
        await ns.AssertBuildObjectsGoneAsync(job.BuildId);
    }

    [Theory]
    [InlineData("zstd", 19, false, "type=image,name=127.0.0.1:5000/wave/build:0123456789abcdef,push=true,compression=zstd,compression-level=19,oci-mediatypes=true")]
    [InlineData("gzip", null, false, "type=image,name=127.0.0.1:5000/wave/build:0123456789abcdef,push=true,compression=gzip")]
    [InlineData("estargz", 6, true, "type=image,name=127.0.0.1:5000/wave/build:0123456789abcdef,push=true,compression=estargz,compression-level=6,force-compression=true,oci-mediatypes=true")]
    public async Task A_build_compression_reaches_the_pod_as_attributes_of_buildkits_image_output(string mode, int? level, bool force, string output)
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        await using var pods = ns.Server.Kubelet.Run(ns.Name, new PodScript { Lines = [$"#9 pushing manifest for x@{PushedDigest} 0.1s done"], RunFor = TimeSpan.FromMilliseconds(200) });
        var job = Job(cache: null) with { Compression = new BuildCompression(mode, level, force) };

        var outcome = await ns.Backend(Options()).RunAsync(job, Credentials(), new CollectingLogSink(), TestContext.Current.CancellationToken);

        Assert.True(outcome.Succeeded, outcome.FailureReason);
        var args = Assert.Single(pods.Pods.Values).Spec.Containers[0].Args;
        Assert.Equal("--output", args[args.IndexOf(output) - 1]);
        await ns.AssertBuildObjectsGoneAsync(job.BuildId);
    }

    [Fact]
    public async Task A_build_compression_with_builder_arguments_that_have_no_image_output_is_refused_before_anything_is_created()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        var job = Job(cache: null) with { Compression = new BuildCompression("zstd", null, Force: false) };

        var outcome = await ns.Backend(Options(o => o.Args = ["build", "--output", "type=local,dest=/out"])).RunAsync(job, Credentials(), new CollectingLogSink(), TestContext.Current.CancellationToken);

        Assert.False(outcome.Succeeded);
        Assert.Equal("the builder's arguments (Wave:Build:Kubernetes:Args) have no '--output type=image,…' to carry buildCompression (zstd)", outcome.FailureReason);
        Assert.True(await ns.IsEmptyAsync());
    }

    [Fact]
    public async Task A_build_context_is_unpacked_by_an_init_container_under_the_recipe_and_the_script_really_does_so()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        var release = new TaskCompletionSource();
        await using var pods = ns.Server.Kubelet.Run(ns.Name, new PodScript { Lines = [$"#9 pushing manifest for x@{PushedDigest} 0.1s done"], Until = release.Task });
        var archive = ContextArchive(("app/hello.txt", "hello from the context\n"), ("conda.yml", "from the archive, replaced by the recipe's\n"));
        var job = Job() with
        {
            BuildContext = new BuildContextArchive { Data = archive, GzipDigest = "sha256:" + new string('c', 64), GzipSize = archive.Length, TarDigest = "sha256:" + new string('d', 64) },
        };

        var build = ns.Backend(Options()).RunAsync(job, Credentials(), new CollectingLogSink(), TestContext.Current.CancellationToken);
        var pod = await pods.WaitForRunningPodAsync();
        var configMap = (await ns.ObjectsOfAsync(job.BuildId)).ConfigMap!;
        release.SetResult();
        var outcome = await build;

        Assert.True(outcome.Succeeded, outcome.FailureReason);
        Assert.Equal(archive, configMap.BinaryData[BuildManifests.ContextArchiveKey]);
        var init = Assert.Single(pod.Spec.InitContainers);
        var main = pod.Spec.Containers[0];
        var workspace = main.VolumeMounts.Single(m => m.MountPath == "/workspace");
        Assert.NotNull(pod.Spec.Volumes.Single(v => v.Name == workspace.Name).EmptyDir);
        Assert.Contains(init.VolumeMounts, m => m.Name == workspace.Name && m.MountPath == "/workspace" && m.ReadOnlyProperty != true);
        Assert.Contains(init.VolumeMounts, m => m.MountPath == BuildManifests.RecipePath && pod.Spec.Volumes.Single(v => v.Name == m.Name).ConfigMap is not null);
        await ns.AssertBuildObjectsGoneAsync(job.BuildId);

        // What the init container runs, run here: the recipe volume as the pod would see it, the workspace it fills.
        var root = Directory.CreateTempSubdirectory("wave-k8s-context-").FullName;
        var recipe = Path.Combine(root, "recipe");
        var filled = Path.Combine(root, "workspace");
        Directory.CreateDirectory(filled);
        foreach (var item in pod.Spec.Volumes.Single(v => v.ConfigMap is not null).ConfigMap.Items)
        {
            var file = Path.Combine(recipe, item.Path);
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            if (configMap.BinaryData?.TryGetValue(item.Key, out var bytes) == true)
            {
                await File.WriteAllBytesAsync(file, bytes, TestContext.Current.CancellationToken);
            }
            else
            {
                await File.WriteAllTextAsync(file, configMap.Data[item.Key], TestContext.Current.CancellationToken);
            }
        }
        var environment = new Dictionary<string, string?> { ["RECIPE"] = recipe, ["WORKSPACE"] = filled };
        await Infrastructure.TestProcess.RunAsync(init.Command[0], init.Command.Skip(1), TimeSpan.FromSeconds(30), environment);
        Assert.Equal("hello from the context\n", await File.ReadAllTextAsync(Path.Combine(filled, "app/hello.txt"), TestContext.Current.CancellationToken));
        Assert.Equal("dependencies: [python]\n", await File.ReadAllTextAsync(Path.Combine(filled, "conda.yml"), TestContext.Current.CancellationToken));
        Assert.Equal(job.Dockerfile, await File.ReadAllTextAsync(Path.Combine(filled, "Dockerfile"), TestContext.Current.CancellationToken));
        Assert.Equal("#!/bin/sh\n", await File.ReadAllTextAsync(Path.Combine(filled, "scripts/setup.sh"), TestContext.Current.CancellationToken));
        Assert.False(File.Exists(Path.Combine(filled, BuildManifests.ContextArchiveKey)));
    }

    [Fact]
    public async Task A_build_context_not_fetched_yet_is_refused_before_anything_is_created()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        var job = Job() with
        {
            BuildContext = new BuildContextArchive { Location = new Uri("https://contexts.example/c.tar.gz"), GzipDigest = "sha256:" + new string('c', 64), GzipSize = 10, TarDigest = "sha256:" + new string('d', 64) },
        };

        var outcome = await ns.Backend(Options()).RunAsync(job, Credentials(), new CollectingLogSink(), TestContext.Current.CancellationToken);

        Assert.False(outcome.Succeeded);
        Assert.Equal("the build context https://contexts.example/c.tar.gz has not been fetched", outcome.FailureReason);
        Assert.True(await ns.IsEmptyAsync());
    }

    private static byte[] ContextArchive(params (string Path, string Text)[] files)
    {
        using var output = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(output, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new System.Formats.Tar.TarWriter(gzip, System.Formats.Tar.TarEntryFormat.Pax))
        {
            foreach (var (path, text) in files)
            {
                tar.WriteEntry(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, path) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(text)) });
            }
        }
        return output.ToArray();
    }

    [Fact]
    public async Task A_job_with_unfetched_remote_layers_is_refused_before_anything_is_created()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        var job = Job() with { RemoteLayers = [new RemoteLayer("layer-0.tar.gz", new Uri("https://layers.example/l.tar.gz"), "sha256:" + new string('a', 64), 10)] };

        var outcome = await ns.Backend(Options()).RunAsync(job, Credentials(), new CollectingLogSink(), TestContext.Current.CancellationToken);

        Assert.False(outcome.Succeeded);
        Assert.Contains("has not been fetched", outcome.FailureReason, StringComparison.Ordinal);
        Assert.True(await ns.IsEmptyAsync());
    }

    [Fact]
    public async Task A_recipe_too_large_for_a_configmap_fails_without_touching_the_cluster()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        var job = Job() with { ContextFiles = new Dictionary<string, string> { ["big.txt"] = new string('x', 1_100_000) } };

        var outcome = await ns.Backend(Options()).RunAsync(job, Credentials(), new CollectingLogSink(), TestContext.Current.CancellationToken);

        Assert.False(outcome.Succeeded);
        Assert.Contains("exceed the 1000000 bytes a ConfigMap can hold", outcome.FailureReason);
        Assert.Contains("Wave:Build:Kubernetes:WorkspaceClaim and Wave:Build:Kubernetes:WorkspaceDirectory", outcome.FailureReason);
        Assert.True(await ns.IsEmptyAsync());
    }

    /// <summary>The workspace claim as an operator makes it; with no storage provisioner here it stays Pending, which the pod may name.</summary>
    private static async Task<KubernetesBuildOptions> SharedWorkspaceAsync(BuildNamespace ns, string directory)
    {
        await ns.Admin.CoreV1.CreateNamespacedPersistentVolumeClaimAsync(new V1PersistentVolumeClaim
        {
            Metadata = new V1ObjectMeta { Name = "wave-workspace" },
            Spec = new V1PersistentVolumeClaimSpec
            {
                AccessModes = ["ReadWriteMany"],
                Resources = new V1VolumeResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["storage"] = new("10Gi") } },
            },
        }, ns.Name, cancellationToken: TestContext.Current.CancellationToken);
        return Options(o => (o.WorkspaceClaim, o.WorkspaceDirectory) = ("wave-workspace", directory));
    }

    [Fact]
    public async Task A_recipe_too_large_for_a_configmap_goes_through_the_shared_workspace_folder_the_pod_mounts_by_subpath()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        var workspace = Directory.CreateTempSubdirectory("wave-k8s-workspace-").FullName;
        var options = await SharedWorkspaceAsync(ns, workspace);
        var release = new TaskCompletionSource();
        await using var pods = ns.Server.Kubelet.Run(ns.Name, new PodScript { Lines = [$"#9 pushing manifest for x@{PushedDigest} 0.1s done"], Until = release.Task });
        var layer = System.Security.Cryptography.RandomNumberGenerator.GetBytes(3_000_000);
        var archive = ContextArchive(("app/hello.txt", "hello from the context\n"), ("conda.yml", "from the archive, replaced by the recipe's\n"), ("Dockerfile", "FROM scratch\n"));
        var job = Job() with
        {
            Dockerfile = "FROM busybox\nADD layer-0.tar.gz /\nCOPY app /app\n",
            BinaryContextFiles = new Dictionary<string, byte[]> { ["layer-0.tar.gz"] = layer },
            BuildContext = new BuildContextArchive { Data = archive, GzipDigest = "sha256:" + new string('c', 64), GzipSize = archive.Length, TarDigest = "sha256:" + new string('d', 64) },
        };
        var names = KubernetesBuildNames.For(job.BuildId);
        var folder = Path.Combine(workspace, BuildManifests.WorkspaceFolder(names));

        var build = ns.Backend(options).RunAsync(job, Credentials(), new CollectingLogSink(), TestContext.Current.CancellationToken);
        var pod = await pods.WaitForRunningPodAsync();
        // While the pod runs, the folder holds the recipe over the unpacked context, and nothing half-written is beside it.
        Assert.Equal(layer, await File.ReadAllBytesAsync(Path.Combine(folder, "layer-0.tar.gz"), TestContext.Current.CancellationToken));
        Assert.Equal(job.Dockerfile, await File.ReadAllTextAsync(Path.Combine(folder, "Dockerfile"), TestContext.Current.CancellationToken));
        Assert.Equal("dependencies: [python]\n", await File.ReadAllTextAsync(Path.Combine(folder, "conda.yml"), TestContext.Current.CancellationToken));
        Assert.Equal("hello from the context\n", await File.ReadAllTextAsync(Path.Combine(folder, "app/hello.txt"), TestContext.Current.CancellationToken));
        Assert.Equal("#!/bin/sh\n", await File.ReadAllTextAsync(Path.Combine(folder, "scripts/setup.sh"), TestContext.Current.CancellationToken));
        Assert.Equal([folder], Directory.GetFileSystemEntries(workspace));
        var configMap = (await ns.ObjectsOfAsync(job.BuildId)).ConfigMap;
        release.SetResult();
        var outcome = await build;

        Assert.True(outcome.Succeeded, outcome.FailureReason);
        Assert.Null(configMap);
        Assert.Null(pod.Spec.InitContainers);
        var mount = pod.Spec.Containers[0].VolumeMounts.Single(m => m.MountPath == "/workspace");
        Assert.Equal((names.Job, true), (mount.SubPath, mount.ReadOnlyProperty));
        Assert.Equal("wave-workspace", pod.Spec.Volumes.Single(v => v.Name == mount.Name).PersistentVolumeClaim.ClaimName);
        Assert.False(Directory.Exists(folder));
        await ns.AssertBuildObjectsGoneAsync(job.BuildId);
    }

    [Fact]
    public async Task A_restarted_builder_keeps_the_workspace_folder_its_first_run_wrote_and_deletes_it_at_the_end()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        var workspace = Directory.CreateTempSubdirectory("wave-k8s-workspace-").FullName;
        var options = await SharedWorkspaceAsync(ns, workspace);
        var job = Job();
        // What the first run left: the pod of a reused Job may be reading it.
        var folder = Directory.CreateDirectory(Path.Combine(workspace, BuildManifests.WorkspaceFolder(KubernetesBuildNames.For(job.BuildId)))).FullName;
        await File.WriteAllTextAsync(Path.Combine(folder, "Dockerfile"), "written by the first run\n", TestContext.Current.CancellationToken);
        var release = new TaskCompletionSource();
        await using var pods = ns.Server.Kubelet.Run(ns.Name, new PodScript { Lines = [$"#9 pushing manifest for x@{PushedDigest} 0.1s done"], Until = release.Task });

        var build = ns.Backend(options).RunAsync(job, Credentials(), new CollectingLogSink(), TestContext.Current.CancellationToken);
        await pods.WaitForRunningPodAsync();
        Assert.Equal("written by the first run\n", await File.ReadAllTextAsync(Path.Combine(folder, "Dockerfile"), TestContext.Current.CancellationToken));
        release.SetResult();

        Assert.True((await build).Succeeded);
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public async Task A_workspace_claim_without_the_builders_own_mount_of_it_is_refused_naming_both_settings()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        var e = Assert.Throws<InvalidOperationException>(() => ns.Backend(Options(o => o.WorkspaceClaim = "wave-workspace")));
        Assert.Equal("Wave:Build:Kubernetes:WorkspaceClaim and Wave:Build:Kubernetes:WorkspaceDirectory go together: the claim the build pods mount, " +
            "and where this builder has the same volume mounted", e.Message);
        Assert.Throws<InvalidOperationException>(() => ns.Backend(Options(o => o.WorkspaceDirectory = "/mnt/wave")));
    }

    [Fact]
    public async Task A_workspace_folder_that_cannot_be_written_fails_the_build_saying_where_and_creates_no_job()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        var blocked = Path.Combine(Directory.CreateTempSubdirectory("wave-k8s-workspace-").FullName, "not-a-folder");
        await File.WriteAllTextAsync(blocked, "a file where the workspace should be", TestContext.Current.CancellationToken);
        var options = await SharedWorkspaceAsync(ns, blocked);
        var job = Job();

        var outcome = await ns.Backend(options).RunAsync(job, Credentials(), new CollectingLogSink(), TestContext.Current.CancellationToken);

        Assert.False(outcome.Succeeded);
        Assert.StartsWith($"the build's workspace could not be written to {blocked}/{BuildManifests.WorkspaceFolder(KubernetesBuildNames.For(job.BuildId))} " +
            "(Wave:Build:Kubernetes:WorkspaceDirectory): ", outcome.FailureReason, StringComparison.Ordinal);
        Assert.Empty((await ns.Admin.BatchV1.ListNamespacedJobAsync(ns.Name, cancellationToken: TestContext.Current.CancellationToken)).Items);
        await ns.AssertBuildObjectsGoneAsync(job.BuildId);
    }

    [Fact]
    public async Task A_failed_pod_ends_the_build_failed_with_its_exit_code_and_log()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        await using var pods = ns.Server.Kubelet.Run(ns.Name, new PodScript
        {
            ExitCode = 1,
            Lines = ["#5 [2/2] RUN exit 1", "ERROR: process \"/bin/sh -c exit 1\" did not complete successfully: exit code: 1"],
            RunFor = TimeSpan.FromMilliseconds(300),
        });
        var log = new CollectingLogSink();
        var job = Job(cache: null, platform: "linux/amd64");

        var outcome = await ns.Backend(Options()).RunAsync(job, Credentials(), log, TestContext.Current.CancellationToken);

        Assert.False(outcome.Succeeded);
        Assert.Equal(1, outcome.ExitCode);
        Assert.Equal("exit code 1", outcome.FailureReason);
        Assert.Null(outcome.ImageDigest);
        Assert.Contains("did not complete successfully", log.Text);
        var pod = Assert.Single(pods.Pods.Values);
        Assert.Equal(TestKubelet.Amd64Node, pods.NodeOf(pod.Metadata.Name));
        Assert.DoesNotContain(pod.Spec.Containers[0].Args, a => a.Contains("cache", StringComparison.Ordinal));
        Assert.Empty(pods.Errors);
        await ns.AssertBuildObjectsGoneAsync(job.BuildId);
    }

    [Fact]
    public async Task A_job_kubernetes_ends_at_its_deadline_ends_timed_out_and_its_running_pod_is_deleted()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        await using var pods = ns.Server.Kubelet.Run(ns.Name, new PodScript { Hangs = true, Lines = ["#5 RUN sleep 3600"] });
        var log = new CollectingLogSink();
        var job = Job(timeout: TimeSpan.FromSeconds(3));

        var build = ns.Backend(Options()).RunAsync(job, Credentials(), log, TestContext.Current.CancellationToken);
        await pods.WaitForRunningPodAsync();
        // The 1.24 Job controller looks at the deadline only when it syncs the Job: touch it once the deadline passed.
        await Task.Delay(TimeSpan.FromSeconds(4), TestContext.Current.CancellationToken);
        await ns.Admin.BatchV1.PatchNamespacedJobAsync(new V1Patch("""{"metadata":{"annotations":{"wave.test/poke":"1"}}}""", V1Patch.PatchType.MergePatch),
            KubernetesBuildNames.For(job.BuildId).Job, ns.Name, cancellationToken: TestContext.Current.CancellationToken);
        var outcome = await build;

        // Kubernetes, not Wave, ended it: Wave's own grace is a minute past the deadline.
        Assert.False(outcome.Succeeded);
        Assert.Equal("timed out", outcome.FailureReason);
        Assert.InRange(outcome.Duration, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(45));
        Assert.Contains("#5 RUN sleep 3600", log.Text);
        Assert.Empty(pods.Errors);
        await ns.AssertBuildObjectsGoneAsync(job.BuildId);
    }

    [Fact]
    public async Task A_pod_no_node_can_run_stays_pending_and_wave_ends_the_build_timed_out_when_kubernetes_does_not()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        await using var pods = ns.Server.Kubelet.Run(ns.Name, new PodScript());
        var job = Job(platform: "linux/s390x", timeout: TimeSpan.FromSeconds(3));

        // Nothing syncs the Job after its deadline, so the Job controller never reports it: Wave's own deadline ends it.
        var outcome = await ns.Backend(Options(o => o.DeadlineGrace = TimeSpan.FromSeconds(2))).RunAsync(job, Credentials(), new CollectingLogSink(), TestContext.Current.CancellationToken);

        Assert.False(outcome.Succeeded);
        Assert.Equal("timed out", outcome.FailureReason);
        Assert.InRange(outcome.Duration, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(40));
        var pod = Assert.Single(pods.Pods.Values);
        Assert.Equal("s390x", pod.Spec.NodeSelector["kubernetes.io/arch"]);
        Assert.Equal([pod.Metadata.Name], pods.Unschedulable);
        await ns.AssertBuildObjectsGoneAsync(job.BuildId);
    }

    [Fact]
    public async Task A_restarted_builder_reuses_the_existing_job_and_replaces_secret_and_configmap()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        var release = new TaskCompletionSource();
        await using var pods = ns.Server.Kubelet.Run(ns.Name, new PodScript { Lines = [$"#9 exporting manifest {ManifestDigest} done"], Until = release.Task });
        var job = Job();
        var names = KubernetesBuildNames.For(job.BuildId);
        var options = Options();
        // What the builder that died had already created, with the password of that time.
        await ns.Admin.CoreV1.CreateNamespacedSecretAsync(BuildManifests.Secret(names, ns.Name, job, Credentials("old-password"), options), ns.Name, cancellationToken: TestContext.Current.CancellationToken);
        await ns.Admin.CoreV1.CreateNamespacedConfigMapAsync(BuildManifests.ConfigMap(names, ns.Name, job with { Dockerfile = "FROM old" }, options), ns.Name, cancellationToken: TestContext.Current.CancellationToken);
        var first = await ns.Admin.BatchV1.CreateNamespacedJobAsync(BuildManifests.Job(names, ns.Name, job, options), ns.Name, cancellationToken: TestContext.Current.CancellationToken);
        var running = await pods.WaitForRunningPodAsync();

        var build = ns.Backend(options).RunAsync(job, Credentials(), new CollectingLogSink(), TestContext.Current.CancellationToken);
        await WaitUntilAsync(() =>
        {
            Assert.True(pods.Pods.Count == 1, $"the build runs twice: pods {string.Join(", ", pods.Pods.Keys)}");
            return ns.Server.Kubelet.LogRequests(ns.Name, running.Metadata.Name) > 0;
        }, "the restarted builder follows the running pod's log");
        var (current, secret, configMap, _) = await ns.ObjectsOfAsync(job.BuildId);
        release.SetResult();
        var outcome = await build;

        Assert.True(outcome.Succeeded);
        Assert.Equal(ManifestDigest, outcome.ImageDigest);
        Assert.Equal(first.Metadata.Uid, current!.Metadata.Uid);
        Assert.Single(pods.Pods);
        Assert.Contains(Password, Encoding.UTF8.GetString(secret!.Data[".dockerconfigjson"]));
        Assert.Equal(job.Dockerfile, configMap!.Data["Dockerfile"]);
        await ns.AssertBuildObjectsGoneAsync(job.BuildId);
    }

    [Fact]
    public async Task A_builder_without_rbac_permission_fails_with_a_message_naming_namespace_and_resource()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        var nobody = await ns.ServiceAccountAsync("nobody");

        var error = await Assert.ThrowsAsync<KubernetesApiException>(() => ns.Backend(Options(), nobody).RunAsync(Job(), Credentials(), new CollectingLogSink(), TestContext.Current.CancellationToken));

        Assert.Equal(HttpStatusCode.Forbidden, error.StatusCode);
        Assert.Equal("Forbidden", error.Reason);
        Assert.Contains($"create secrets/{KubernetesBuildNames.For(Job().BuildId).Secret} in namespace '{ns.Name}'", error.Message);
        Assert.Contains($"system:serviceaccount:{ns.Name}:nobody", error.Message);
        Assert.Contains("RBAC", error.Message);
        Assert.DoesNotContain(Password, error.ToString());
        Assert.True(await ns.IsEmptyAsync());
    }

    [Fact]
    public async Task Watches_the_server_closes_are_opened_again_until_the_job_ends()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        await using var pods = ns.Server.Kubelet.Run(ns.Name, new PodScript { StartAfter = TimeSpan.FromSeconds(1), RunFor = TimeSpan.FromSeconds(4), Lines = ["#1 slow"] });
        // The server ends each watch after a second; with Wave's own deadline close behind the build's, a backend that
        // stopped watching would end "timed out".
        var backend = ns.Backend(Options(o => (o.WatchTimeout, o.DeadlineGrace) = (TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1))));
        var job = Job(timeout: TimeSpan.FromSeconds(20));

        var outcome = await backend.RunAsync(job, Credentials(), new CollectingLogSink(), TestContext.Current.CancellationToken);

        Assert.True(outcome.Succeeded, outcome.FailureReason);
        Assert.InRange(outcome.Duration, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(19));
        await ns.AssertBuildObjectsGoneAsync(job.BuildId);
    }

    [Fact]
    public async Task A_log_is_followed_for_longer_than_the_request_timeout()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        await using var pods = ns.Server.Kubelet.Run(ns.Name, new PodScript { Lines = ["#1 early"], RunFor = TimeSpan.FromSeconds(4), LastLines = ["#9 late"] });
        var log = new CollectingLogSink();
        var job = Job();

        var outcome = await ns.Backend(Options(o => o.RequestTimeout = TimeSpan.FromSeconds(1))).RunAsync(job, Credentials(), log, TestContext.Current.CancellationToken);

        Assert.True(outcome.Succeeded, log.Text);
        Assert.Contains("#1 early\n", log.Text);
        Assert.Contains("#9 late\n", log.Text);
        Assert.DoesNotContain("the log stream broke", log.Text);
        await ns.AssertBuildObjectsGoneAsync(job.BuildId);
    }

    [Fact]
    public async Task A_builder_not_allowed_to_watch_polls_the_job_instead()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        var noWatch = await ns.ServiceAccountAsync("no-watch",
            BuildNamespace.Rule("batch", "jobs", "create", "get", "delete"),
            BuildNamespace.Rule("", "pods", "get", "list"),
            BuildNamespace.Rule("", "pods/log", "get"),
            BuildNamespace.Rule("", "secrets", "create", "update", "delete"),
            BuildNamespace.Rule("", "configmaps", "create", "update", "delete"));
        await using var pods = ns.Server.Kubelet.Run(ns.Name, new PodScript { StartAfter = TimeSpan.FromMilliseconds(500), RunFor = TimeSpan.FromSeconds(2), Lines = ["#1 polled"] });
        var log = new CollectingLogSink();
        var job = Job();

        var outcome = await ns.Backend(Options(), noWatch).RunAsync(job, Credentials(), log, TestContext.Current.CancellationToken);

        Assert.True(outcome.Succeeded, log.Text);
        Assert.Contains("#1 polled", log.Text);
        await ns.AssertBuildObjectsGoneAsync(job.BuildId);
    }

    [Fact]
    public async Task A_cancelled_build_still_deletes_its_objects()
    {
        await using var ns = await BuildNamespace.CreateAsync(kube);
        await using var pods = ns.Server.Kubelet.Run(ns.Name, new PodScript { Hangs = true });
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var job = Job();

        var build = ns.Backend(Options()).RunAsync(job, Credentials(), new CollectingLogSink(), cancel.Token);
        await pods.WaitForRunningPodAsync();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => build);
        await ns.AssertBuildObjectsGoneAsync(job.BuildId);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(50);
        }
    }
}
