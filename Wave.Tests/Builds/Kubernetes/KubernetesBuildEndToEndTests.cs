using k8s;
using k8s.Models;

using Wave.Builder.Kubernetes;
using Wave.Tests.Builds.EndToEnd;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Kubernetes;

namespace Wave.Tests.Builds.Kubernetes;

/// <summary>
/// Builds requested from a real Wave host whose builder runs them on the suite's API server: the request goes through
/// the API, the queue and the build store, the Job's pod is played by the test kubelet, and the record and the log
/// come back through <c>/v1alpha1/builds</c>.
/// </summary>
public sealed class KubernetesBuildEndToEndTests(RegistryFixture registryFixture, KubernetesFixture kube)
{
    private static readonly string Digest = "sha256:" + new string('c', 64);

    /// <summary>An embedded host (API, proxy and builder in one) whose builds run as Jobs in <paramref name="ns"/>.</summary>
    internal static Dictionary<string, string?> Settings(TestRegistries registries, KubernetesServer server, string ns)
    {
        var settings = WaveFixture.RegistrySettings(registries);
        settings["Wave:Build:DefaultBuildRepository"] = $"{registries.Plain.Host}/wave/builds";
        settings["Wave:Build:Backend"] = "kubernetes";
        settings["Wave:Build:Kubernetes:Connection"] = "kubeconfig";
        settings["Wave:Build:Kubernetes:Kubeconfig"] = server.KubeconfigPath;
        settings["Wave:Build:Kubernetes:Namespace"] = ns;
        settings["Wave:Build:Kubernetes:PollInterval"] = "00:00:00.200";
        return settings;
    }

    /// <summary>What BuildKit prints for the pod's build: the target image comes from the container's arguments.</summary>
    internal static IReadOnlyList<string> BuildkitLines(V1Pod pod)
    {
        var target = pod.Spec.Containers[0].Args.Single(a => a.StartsWith("type=image,name=", StringComparison.Ordinal))["type=image,name=".Length..].Split(',')[0];
        return ["#1 [internal] load build definition from Dockerfile", "#5 [2/2] RUN echo built-on-kubernetes", $"#9 pushing manifest for {target}@{Digest} 0.1s done"];
    }

    [Fact]
    public async Task A_build_requested_from_wave_runs_as_a_job_and_its_record_and_log_come_back()
    {
        var registries = await registryFixture.GetAsync();
        await using var ns = await BuildNamespace.CreateAsync(kube, "wave-e2e");
        var release = new TaskCompletionSource();
        await using var pods = ns.Server.Kubelet.Run(ns.Name, pod => new PodScript { Lines = BuildkitLines(pod), Until = release.Task });
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, Settings(registries, ns.Server, ns.Name));
        var dockerfile = $"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN echo built-on-kubernetes\n";

        var (answer, buildId) = await wave.Client.SubmitDockerfileAsync(dockerfile, $"{registries.Plain.Host}/k8s/e2e");
        var pod = await pods.WaitForRunningPodAsync();
        var (job, secret, configMap, _) = await ns.ObjectsOfAsync(buildId);
        release.SetResult();
        var status = await wave.Client.WaitCompletedAsync(buildId, TimeSpan.FromMinutes(2));

        var logs = await wave.Client.LogsAsync(buildId);
        Assert.True(status["succeeded"]!.GetValue<bool>(), logs);
        Assert.Contains("#5 [2/2] RUN echo built-on-kubernetes\n", logs, StringComparison.Ordinal);
        var record = await wave.Client.RecordAsync(buildId);
        Assert.Equal(Digest, record["digest"]!.GetValue<string>());
        Assert.Equal("linux/amd64", record["platform"]!.GetValue<string>());
        Assert.Equal(KubernetesBuildNames.For(buildId).Job, job!.Metadata.Name);
        Assert.Equal(TestKubelet.Amd64Node, pods.NodeOf(pod.Metadata.Name));
        Assert.Contains($"type=image,name={answer.Body!["containerImage"]!.GetValue<string>()},push=true", pod.Spec.Containers[0].Args);
        Assert.Equal(dockerfile, configMap!.Data["Dockerfile"]);

        // The registry logins Wave holds are in the Secret, and nowhere else: not the Job, not the recipe, not the log.
        var dockerConfig = System.Text.Encoding.UTF8.GetString(secret!.Data[".dockerconfigjson"]);
        foreach (var login in new[] { RegistryFixture.BasicUser, RegistryFixture.BearerUser })
        {
            Assert.Contains(login.Password, dockerConfig, StringComparison.Ordinal);
            Assert.DoesNotContain(login.Password, KubernetesJson.Serialize(job), StringComparison.Ordinal);
            Assert.DoesNotContain(login.Password, KubernetesJson.Serialize(pod), StringComparison.Ordinal);
            Assert.DoesNotContain(login.Password, KubernetesJson.Serialize(configMap), StringComparison.Ordinal);
            Assert.DoesNotContain(login.Password, logs, StringComparison.Ordinal);
            Assert.DoesNotContain(login.Password, record.ToJsonString(), StringComparison.Ordinal);
        }
        Assert.Empty(pods.Errors);
        await ns.AssertBuildObjectsGoneAsync(buildId);
    }

    [Fact]
    public async Task A_build_whose_pod_fails_is_recorded_failed_with_the_exit_code_and_log()
    {
        var registries = await registryFixture.GetAsync();
        await using var ns = await BuildNamespace.CreateAsync(kube, "wave-e2e");
        await using var pods = ns.Server.Kubelet.Run(ns.Name, new PodScript
        {
            ExitCode = 3,
            Lines = ["#5 [2/2] RUN exit 3", "ERROR: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3"],
        });
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, Settings(registries, ns.Server, ns.Name));

        var (_, buildId) = await wave.Client.SubmitDockerfileAsync($"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN exit 3\n", $"{registries.Plain.Host}/k8s/e2e-failed");
        var status = await wave.Client.WaitCompletedAsync(buildId, TimeSpan.FromMinutes(2));

        var logs = await wave.Client.LogsAsync(buildId);
        Assert.False(status["succeeded"]!.GetValue<bool>(), logs);
        Assert.Equal("exit code 3", (await wave.Client.RecordAsync(buildId))["failureReason"]!.GetValue<string>());
        Assert.Contains("did not complete successfully: exit code: 3", logs, StringComparison.Ordinal);
        Assert.Contains("Build failed: exit code 3", logs, StringComparison.Ordinal);
        Assert.Single(pods.Pods);
        await ns.AssertBuildObjectsGoneAsync(buildId);
    }
}
