using Wave.Tests.Builds.EndToEnd;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Persistence;
using Wave.Tests.Persistence;

namespace Wave.Tests.Faults;

/// <summary>
/// The distributed build path with real Postgres and RabbitMQ: a builder process SIGKILLed in the middle of a build
/// loses nothing. Its unacknowledged job goes back to the queue, the next builder takes it as a redelivery, and the
/// build completes once, under its original id.
/// </summary>
public sealed class BuilderKilledTests(RegistryFixture registryFixture, PostgresFixture postgresFixture, RabbitMqFixture rabbitFixture, DockerEngineFixture dockerFixture)
{
    [Fact]
    public async Task A_build_whose_builder_is_killed_completes_once_on_the_next_builder()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var registries = await registryFixture.GetAsync();
        var postgres = await postgresFixture.GetAsync();
        var rabbit = await rabbitFixture.GetAsync();
        var settings = DistributedBuild.Settings(registries, "killed-builder", await postgres.CreateDatabaseAsync(cancellationToken), rabbit.ConnectionString);
        await using var api = await WaveTestHost.StartAsync(WaveRole.Api, settings);

        var first = await DistributedBuild.StartBuilderAsync(settings);
        var dockerfile = $"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN echo started && sleep 8 && echo survived > /survived.txt\nCMD [\"cat\", \"/survived.txt\"]\n";
        var (answer, buildId) = await api.Client.SubmitDockerfileAsync(dockerfile, $"{registries.Plain.Host}/killed/builder", freeze: true);

        // Kill the builder once its RUN step is under way.
        await DistributedBuild.WaitForLogLineAsync(api.Client, buildId, "started", first);
        await CrashAsync(first);
        await first.DisposeAsync();
        Assert.Equal("RUNNING", (await api.Client.RecordAsync(buildId))["status"]!.GetValue<string>());

        await using var second = await DistributedBuild.StartBuilderAsync(settings);
        var status = await api.Client.WaitCompletedAsync(buildId);

        var logs = await api.Client.LogsAsync(buildId);
        Assert.True(status["succeeded"]!.GetValue<bool>(), logs);
        Assert.Contains("build started again", logs, StringComparison.Ordinal);
        Assert.Equal(buildId, status["id"]!.GetValue<string>());
        Assert.EndsWith("_1", buildId, StringComparison.Ordinal);
        var docker = await dockerFixture.GetAsync();
        Assert.Equal("survived", (await docker.RunAsync("run", "--rm", "--network", "none", answer.TargetImage)).Trim());
    }

    /// <summary>
    /// A crash of the whole builder at one instant, as when its pod dies: every process of the tree is stopped
    /// (SIGSTOP) before any is killed, so the builder never sees its buildah child die and cannot record an outcome.
    /// </summary>
    private static async Task CrashAsync(TestProcess builder)
    {
        var tree = new List<int> { builder.Id };
        for (var i = 0; i < tree.Count; i++)
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{tree[i]}/task"))
            {
                var children = File.Exists(Path.Combine(task, "children")) ? await File.ReadAllTextAsync(Path.Combine(task, "children")) : "";
                tree.AddRange(children.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).Where(pid => !tree.Contains(pid)));
            }
        }
        var pids = tree.Select(pid => pid.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        foreach (var signal in new[] { "-STOP", "-KILL" })
        {
            try
            {
                await TestProcess.RunAsync("kill", [signal, .. pids]);
            }
            catch (CommandFailedException)
            {
                // A short-lived child (a buildah helper) ended meanwhile; kill still signalled every other process.
            }
        }
        Assert.True(builder.HasExited || await builder.WaitForExitAsync(TimeSpan.FromSeconds(30)) != 0, "the builder was killed");
    }

}
