using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Builds.EndToEnd;

/// <summary>
/// The embedded mode's queue lives in its process, its build records in SQLite: a build interrupted by a stop is
/// queued again from its saved job when the service starts, and completes under its original id.
/// </summary>
public sealed class EmbeddedRestartTests(RegistryFixture registryFixture)
{
    [Fact]
    public async Task A_build_interrupted_by_a_stop_completes_after_the_restart()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var registries = await registryFixture.GetAsync();
        var work = Path.Combine(Path.GetTempPath(), "wave-embedded-restart-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = BuildHostFixture.Settings(registries, work);
        var dockerfile = $"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN echo started && sleep 5 && echo done > /done.txt\n";

        string buildId;
        await using (var before = await WaveTestHost.StartAsync(WaveRole.Embedded, settings))
        {
            var answer = await before.Client.PostContainerAsync(new { containerFile = BuildApi.Base64(dockerfile) });
            Assert.True(answer.Status == 200, answer.Text);
            buildId = answer.Body!["buildId"]!.GetValue<string>();
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
            while (!(await before.Client.LogsAsync(buildId)).Contains("started\n", StringComparison.Ordinal))
            {
                Assert.True(DateTime.UtcNow < deadline, "the build's RUN step did not start");
                await Task.Delay(200, cancellationToken);
            }
        }

        await using var after = await WaveTestHost.StartAsync(WaveRole.Embedded, settings);
        var status = await after.Client.WaitCompletedAsync(buildId);
        var logs = await after.Client.LogsAsync(buildId);
        Assert.True(status["succeeded"]!.GetValue<bool>(), logs);
        Assert.Contains("build started again", logs, StringComparison.Ordinal);
    }
}
