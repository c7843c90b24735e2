using System.Text.Json.Nodes;

using Wave.Tests.Builds.EndToEnd;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Persistence;
using Wave.Tests.Persistence;

namespace Wave.Tests.Faults;

/// <summary>
/// The broker restarts while a build runs (Api in-process, builder as its own process, real Postgres, a RabbitMQ node
/// of the test's own). The build goes on in its builder; the job the broker hands out again after the restart is
/// recognised as the one running there and does not start a second run. The build completes once, as attempt 1, and
/// its log says the queue's connection was lost and recovered.
/// </summary>
public sealed class RabbitMqRestartTests(RegistryFixture registryFixture, PostgresFixture postgresFixture, DockerEngineFixture dockerFixture)
{
    [Fact]
    public async Task A_build_running_while_the_broker_restarts_completes_once_and_its_record_is_right()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var registries = await registryFixture.GetAsync();
        var postgres = await postgresFixture.GetAsync();
        await using var rabbit = await RabbitMqServer.StartAsync();
        var settings = DistributedBuild.Settings(registries, "rabbit-restart", await postgres.CreateDatabaseAsync(cancellationToken), rabbit.ConnectionString);
        await using var api = await WaveTestHost.StartAsync(WaveRole.Api, settings);
        await using var builder = await DistributedBuild.StartBuilderAsync(settings);

        // Long enough for a stop and a start of the node (a few seconds each here) while the RUN step sleeps.
        var dockerfile = $"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN echo run-began && sleep 30 && echo survived > /survived.txt\nCMD [\"cat\", \"/survived.txt\"]\n";
        var (answer, buildId) = await api.Client.SubmitDockerfileAsync(dockerfile, $"{registries.Plain.Host}/rabbit/restart", freeze: true);

        await DistributedBuild.WaitForLogLineAsync(api.Client, buildId, "run-began", builder);
        await rabbit.StopAsync();
        await rabbit.StartAgainAsync();
        Assert.Equal("RUNNING", (await api.Client.RecordAsync(buildId))["status"]!.GetValue<string>());

        var status = await api.Client.WaitCompletedAsync(buildId);
        var logs = await api.Client.LogsAsync(buildId);
        Assert.True(status["succeeded"]!.GetValue<bool>(), logs + "\n" + builder.Output);
        Assert.Equal(buildId, status["id"]!.GetValue<string>());
        Assert.EndsWith("_1", buildId, StringComparison.Ordinal);
        var record = await api.Client.RecordAsync(buildId);
        Assert.Equal("COMPLETED", record["status"]!.GetValue<string>());
        Assert.True(record["succeeded"]!.GetValue<bool>());
        Assert.Equal(1, record["attempt"]!.GetValue<int>());

        // One run: its RUN step began once, no builder started it again, and the log tells of the recovery.
        Assert.Equal(1, CountOf(logs, "run-began\n"));
        Assert.DoesNotContain("build started again", logs, StringComparison.Ordinal);
        Assert.Contains("connection was lost and recovered while this build ran", logs, StringComparison.Ordinal);
        Assert.False(builder.HasExited, builder.Output);

        // The consumer works after the restart: a second build is taken and completes.
        var next = await api.Client.PostContainerAsync(new
        {
            containerFile = BuildApi.Base64($"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN echo after-restart > /after.txt\n"),
            buildRepository = $"{registries.Plain.Host}/rabbit/restart",
        });
        Assert.True(next.Status == 200, next.Text);
        JsonNode nextStatus;
        try
        {
            nextStatus = await api.Client.WaitCompletedAsync(next.Body!["buildId"]!.GetValue<string>());
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\nbuilder output:\n{builder.Output}", e);
        }
        Assert.True(nextStatus["succeeded"]!.GetValue<bool>(), nextStatus.ToJsonString());

        var docker = await dockerFixture.GetAsync();
        Assert.Equal("survived", (await docker.RunAsync("run", "--rm", "--network", "none", answer.TargetImage)).Trim());
    }

    private static int CountOf(string text, string value)
    {
        var count = 0;
        for (var at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }
}
