using Wave.Builder.Kubernetes;
using Wave.Tests.Builds.EndToEnd;
using Wave.Tests.Faults;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Kubernetes;
using Wave.Tests.Infrastructure.Persistence;
using Wave.Tests.Persistence;

namespace Wave.Tests.Builds.Kubernetes;

/// <summary>
/// The distributed path (Api host, builder processes, Postgres, RabbitMQ) with the Kubernetes backend: a builder
/// SIGKILLed while its Job runs leaves the Job behind; the next builder takes the build over, follows that same Job
/// instead of starting another, and the build completes once.
/// </summary>
public sealed class KubernetesBuilderKilledTests(RegistryFixture registryFixture, PostgresFixture postgresFixture, RabbitMqFixture rabbitFixture, KubernetesFixture kube)
{
    [Fact]
    public async Task A_builder_killed_while_its_job_runs_is_followed_by_the_next_builder_on_the_same_job()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var registries = await registryFixture.GetAsync();
        var postgres = await postgresFixture.GetAsync();
        var rabbit = await rabbitFixture.GetAsync();
        await using var ns = await BuildNamespace.CreateAsync(kube, "wave-killed");
        var release = new TaskCompletionSource();
        await using var pods = ns.Server.Kubelet.Run(ns.Name, pod => new PodScript { Lines = ["started", .. KubernetesBuildEndToEndTests.BuildkitLines(pod)], Until = release.Task });
        var settings = KubernetesBuildEndToEndTests.Settings(registries, ns.Server, ns.Name);
        settings["ConnectionStrings:postgres"] = await postgres.CreateDatabaseAsync(cancellationToken);
        settings["ConnectionStrings:rabbitmq"] = rabbit.ConnectionString;
        settings["Wave:Build:QueueName"] = TestJobs.UniqueQueueName();
        settings["Wave:Build:Concurrency"] = "1";
        // The next builder takes the build over once the dead one's lease is this old.
        settings["Wave:Build:Lease:Timeout"] = "00:00:06";
        await using var api = await WaveTestHost.StartAsync(WaveRole.Api, settings);

        var first = await DistributedBuild.StartBuilderAsync(settings);
        var (_, buildId) = await api.Client.SubmitDockerfileAsync($"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN echo killed\n", $"{registries.Plain.Host}/k8s/killed");
        var pod = await pods.WaitForRunningPodAsync();
        await DistributedBuild.WaitForLogLineAsync(api.Client, buildId, "started", first);
        var jobUid = (await ns.ObjectsOfAsync(buildId)).Job!.Metadata.Uid;

        // A crash: no cleanup runs, the Job and its pod stay.
        first.Kill();
        Assert.NotEqual(0, await first.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        await first.DisposeAsync();
        Assert.Equal("RUNNING", (await api.Client.RecordAsync(buildId))["status"]!.GetValue<string>());

        await using var second = await DistributedBuild.StartBuilderAsync(settings);
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (ns.Server.Kubelet.LogRequests(ns.Name, pod.Metadata.Name) < 2)
        {
            Assert.True(pods.Pods.Count == 1, $"the build runs twice: the next builder started pods {string.Join(", ", pods.Pods.Keys)} instead of following the Job's");
            Assert.True(DateTime.UtcNow < deadline, $"the next builder never followed the pod's log; builder output:\n{second.Output}");
            await Task.Delay(100, cancellationToken);
        }
        var (job, _, _, _) = await ns.ObjectsOfAsync(buildId);
        release.SetResult();
        var status = await api.Client.WaitCompletedAsync(buildId, TimeSpan.FromMinutes(2));

        var logs = await api.Client.LogsAsync(buildId);
        Assert.True(status["succeeded"]!.GetValue<bool>(), logs);
        Assert.Contains("build started again", logs, StringComparison.Ordinal);
        Assert.Equal(jobUid, job!.Metadata.Uid);
        // Built once: the one Job's one pod, never a second.
        Assert.Equal([pod.Metadata.Name], pods.Pods.Keys);
        Assert.Equal(KubernetesBuildNames.For(buildId).Job, pod.Metadata.Labels["job-name"]);
        Assert.Empty(pods.Errors);
        await ns.AssertBuildObjectsGoneAsync(buildId);
    }
}
