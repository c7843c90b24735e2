using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Persistence;

namespace Wave.Tests.Records;

/// <summary>Records live in Postgres: a Wave started again on the same database still describes the tokens the first one issued.</summary>
public sealed class RecordsRestartTests(RegistryFixture registryFixture, PostgresFixture postgresFixture)
{
    [Fact]
    public async Task A_token_issued_before_a_restart_is_described_after_it()
    {
        var registries = await registryFixture.GetAsync();
        var postgres = await postgresFixture.GetAsync();
        var settings = RecordsTestSupport.Settings(registries, new()
        {
            ["ConnectionStrings:postgres"] = await postgres.CreateSchemaAsync(TestContext.Current.CancellationToken),
        });

        ApiAnswer answer;
        await using (var first = await WaveTestHost.StartAsync(WaveRole.Embedded, settings))
        {
            answer = await first.Client.PostContainerAsync(new { containerImage = registries.Images.DockerV2, containerPlatform = "linux/amd64" });
            Assert.True(answer.Status == 200, answer.Text);
        }

        await using var second = await WaveTestHost.StartAsync(WaveRole.Embedded, settings);
        var described = await second.GetAsync($"/container-token/{answer.Token}");
        Assert.True(described.Status == 200, described.Text);
        Assert.Equal(answer.TargetImage, described.Body!["request"]!["waveImage"]!.GetValue<string>());
        Assert.Equal("linux/amd64", described.Body["request"]!["platform"]!.GetValue<string>());
        // The token itself lived in the first process's memory (embedded state): the record outlives it, and says so.
        Assert.Equal(404, (await second.PullManifestAsync(answer.TargetImage)).Status);
        var status = await second.GetAsync($"/v1alpha2/container/{answer.Token}/status");
        Assert.Equal("DONE", status.Body!["status"]!.GetValue<string>());
    }
}
