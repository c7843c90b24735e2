using System.Text.Json.Nodes;

using Wave.Tests.Builds.EndToEnd;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Persistence;
using Wave.Tests.Persistence;

namespace Wave.Tests.Faults;

/// <summary>
/// Postgres (a server of the test's own) stops while a build runs, with the Api in-process and the builder as its own
/// process on the shared RabbitMQ. While it is down, build requests and build records are answered 503 with a message,
/// never 500; once it is back, the same processes answer again, and the build that was running completes, with the
/// log it wrote meanwhile.
/// </summary>
public sealed class PostgresRestartTests(RegistryFixture registryFixture, RabbitMqFixture rabbitFixture)
{
    [Fact]
    public async Task While_postgres_is_down_builds_answer_503_and_a_running_build_completes_after_it_returns()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var registries = await registryFixture.GetAsync();
        var rabbit = await rabbitFixture.GetAsync();
        await using var postgres = await PostgresServer.StartAsync();
        var settings = DistributedBuild.Settings(registries, "pg-restart", await postgres.CreateDatabaseAsync(cancellationToken), rabbit.ConnectionString);
        await using var api = await WaveTestHost.StartAsync(WaveRole.Api, settings);
        await using var builder = await DistributedBuild.StartBuilderAsync(settings);

        var dockerfile = $"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN echo run-began && sleep 4 && echo while-postgres-was-down && sleep 15\n";
        var (_, buildId) = await api.Client.SubmitDockerfileAsync(dockerfile, $"{registries.Plain.Host}/postgres/restart");
        await DistributedBuild.WaitForLogLineAsync(api.Client, buildId, "run-began", builder);

        await postgres.StopAsync();
        var refused = await api.Client.PostContainerAsync(new
        {
            containerFile = BuildApi.Base64($"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN true\n"),
            buildRepository = $"{registries.Plain.Host}/postgres/restart",
        });
        Assert.True(refused.Status == 503, $"{refused.Status}: {refused.Text}");
        Assert.False(string.IsNullOrWhiteSpace(refused.Message));
        foreach (var path in new[] { $"/v1alpha1/builds/{buildId}", $"/v1alpha1/builds/{buildId}/status", $"/v1alpha1/builds/{buildId}/logs" })
        {
            using var response = await api.Client.GetAsync(path, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            Assert.True((int)response.StatusCode == 503, $"{path}: {(int)response.StatusCode} {text}");
            Assert.False(string.IsNullOrWhiteSpace(JsonNode.Parse(text)!["message"]?.GetValue<string>()), text);
        }
        // Long enough for the builder's log writes to fail a few times.
        await Task.Delay(TimeSpan.FromSeconds(8), cancellationToken);
        await postgres.StartAgainAsync();

        var status = await api.Client.WaitCompletedAsync(buildId);
        var logs = await api.Client.LogsAsync(buildId);
        Assert.True(status["succeeded"]!.GetValue<bool>(), logs + "\n" + builder.Output);
        // Printed about when the store went down: the log is whole.
        Assert.Contains("while-postgres-was-down", logs, StringComparison.Ordinal);
        var record = await api.Client.RecordAsync(buildId);
        Assert.Equal(1, record["attempt"]!.GetValue<int>());

        // The Api works again without a restart: a new build request is accepted.
        var after = await api.Client.PostContainerAsync(new
        {
            containerFile = BuildApi.Base64($"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN true\n"),
            buildRepository = $"{registries.Plain.Host}/postgres/restart",
        });
        Assert.True(after.Status == 200, after.Text);
        Assert.True((await api.Client.WaitCompletedAsync(after.Body!["buildId"]!.GetValue<string>()))["succeeded"]!.GetValue<bool>());
    }
}
