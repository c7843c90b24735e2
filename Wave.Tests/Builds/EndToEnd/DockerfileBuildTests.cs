using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

using Microsoft.Extensions.DependencyInjection;

using Wave.Core.Persistence;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Builds.EndToEnd;

/// <summary>
/// The build flow through the embedded host: a request with a Dockerfile is planned, recorded, queued, built with
/// buildah, pushed to the test registry and pulled through the token by docker, which runs what RUN wrote.
/// </summary>
public sealed class DockerfileBuildTests(RegistryFixture registryFixture, BuildHostFixture buildFixture, DockerEngineFixture dockerFixture)
{
    private async Task<(WaveTestHost Wave, TestRegistries Registries)> SetUpAsync()
    {
        var registries = await registryFixture.GetAsync();
        return (await buildFixture.GetAsync(registries), registries);
    }

    [Fact]
    public async Task A_dockerfile_build_is_pulled_while_it_runs_and_docker_runs_what_run_wrote()
    {
        var (wave, registries) = await SetUpAsync();
        var dockerfile = $"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN echo built-by-wave > /built.txt\nCMD [\"cat\", \"/built.txt\"]\n";

        var answer = await wave.Client.PostContainerAsync(new { containerFile = BuildApi.Base64(dockerfile) });

        Assert.True(answer.Status == 200, answer.Text);
        var buildId = answer.Body!["buildId"]!.GetValue<string>();
        Assert.Matches("^bd-[0-9a-f]{16}_1$", buildId);
        Assert.False(answer.Body["cached"]!.GetValue<bool>());
        Assert.False(answer.Body["freeze"]!.GetValue<bool>());
        var built = answer.Body["containerImage"]!.GetValue<string>();
        Assert.StartsWith($"{registries.Plain.Host}/wave/builds:", built, StringComparison.Ordinal);
        Assert.EndsWith(buildId[3..19], built, StringComparison.Ordinal);
        Assert.StartsWith($"{wave.Host}/wt/{answer.Token}/wave/builds:", answer.TargetImage, StringComparison.Ordinal);

        // Pulled straight away: the proxy holds the pull until the build completed.
        var docker = await dockerFixture.GetAsync();
        await docker.RunAsync(TimeSpan.FromMinutes(6), "pull", answer.TargetImage);
        var output = await docker.RunAsync("run", "--rm", "--network", "none", answer.TargetImage);
        Assert.Equal("built-by-wave", output.Trim());

        var status = await wave.Client.StatusAsync(buildId);
        Assert.Equal(buildId, status["id"]!.GetValue<string>());
        Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());
        Assert.True(status["succeeded"]!.GetValue<bool>());
        Assert.True(status["duration"]!.GetValue<double>() > 0);
        Assert.Contains("RUN echo built-by-wave > /built.txt", await wave.Client.LogsAsync(buildId), StringComparison.Ordinal);
        // The token's status and record name the build behind it.
        var containerStatus = await wave.Client.GetFromJsonAsync<JsonNode>($"/v1alpha2/container/{answer.Token}/status", TestContext.Current.CancellationToken);
        Assert.Equal("DONE", containerStatus!["status"]!.GetValue<string>());
        Assert.Equal(buildId, containerStatus["buildId"]!.GetValue<string>());
        Assert.True(containerStatus["succeeded"]!.GetValue<bool>());
        var containerRecord = await wave.Client.GetFromJsonAsync<JsonNode>($"/container-token/{answer.Token}", TestContext.Current.CancellationToken);
        Assert.Equal(buildId, containerRecord!["request"]!["buildId"]!.GetValue<string>());
        // The API reference's form of the id, without the bd- prefix, names the same build.
        Assert.Equal("COMPLETED", (await wave.Client.StatusAsync(buildId[3..]))["status"]!.GetValue<string>());

        var record = await wave.Client.RecordAsync(buildId);
        Assert.Equal(built, record["targetImage"]!.GetValue<string>());
        Assert.Equal("linux/amd64", record["platform"]!.GetValue<string>());
        Assert.Equal(dockerfile, record["dockerFile"]!.GetValue<string>());
        Assert.StartsWith("sha256:", record["digest"]!.GetValue<string>(), StringComparison.Ordinal);

        // The same request again: the image exists, nothing is built, the same build is named.
        var again = await wave.Client.PostContainerAsync(new { containerFile = BuildApi.Base64(dockerfile) });
        Assert.True(again.Status == 200, again.Text);
        Assert.True(again.Body!["cached"]!.GetValue<bool>());
        Assert.Equal(buildId, again.Body["buildId"]!.GetValue<string>());
        Assert.NotEqual(answer.Token, again.Token);
        var store = wave.Services.GetRequiredService<IBuildStore>();
        var latest = await store.FindLatestByContainerIdAsync(buildId[3..19], TestContext.Current.CancellationToken);
        Assert.Equal(buildId, latest!.BuildId);
        Assert.Equal("built-by-wave", (await docker.RunAsync("run", "--rm", "--network", "none", again.TargetImage)).Trim());
    }

    [Fact]
    public async Task An_arm64_build_runs_under_emulation_and_reports_aarch64()
    {
        var (wave, registries) = await SetUpAsync();
        var dockerfile = $"FROM {registries.Images.MultiArch}\n{BuildApi.Nonce()}RUN uname -m > /arch.txt\nCMD [\"cat\", \"/arch.txt\"]\n";

        var answer = await wave.Client.PostContainerAsync(new { containerFile = BuildApi.Base64(dockerfile), containerPlatform = "arm64" });

        Assert.True(answer.Status == 200, answer.Text);
        var buildId = answer.Body!["buildId"]!.GetValue<string>();
        var status = await wave.Client.WaitCompletedAsync(buildId);
        Assert.True(status["succeeded"]!.GetValue<bool>(), await wave.Client.LogsAsync(buildId));
        Assert.Equal("linux/arm64", (await wave.Client.RecordAsync(buildId))["platform"]!.GetValue<string>());

        var docker = await dockerFixture.GetAsync();
        await docker.RunAsync("pull", "--platform", "linux/arm64", answer.TargetImage);
        var output = await docker.RunAsync("run", "--rm", "--network", "none", "--platform", "linux/arm64", answer.TargetImage);
        Assert.Equal("aarch64", output.Trim());
    }

    [Fact]
    public async Task A_failing_dockerfile_completes_unsucceeded_and_its_pull_says_why()
    {
        var (wave, registries) = await SetUpAsync();
        var dockerfile = $"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN echo about-to-fail && exit 3\n";

        var answer = await wave.Client.PostContainerAsync(new { containerFile = BuildApi.Base64(dockerfile) });

        Assert.True(answer.Status == 200, answer.Text);
        var buildId = answer.Body!["buildId"]!.GetValue<string>();
        var status = await wave.Client.WaitCompletedAsync(buildId);
        Assert.False(status["succeeded"]!.GetValue<bool>());
        var logs = await wave.Client.LogsAsync(buildId);
        Assert.Contains("about-to-fail", logs, StringComparison.Ordinal);
        Assert.Contains("exit code 3", logs, StringComparison.Ordinal);
        var record = await wave.Client.RecordAsync(buildId);
        Assert.Equal("exit code 3", record["failureReason"]!.GetValue<string>());

        // The registry API says why, in the OCI error of a GET and in the header of a HEAD.
        var manifestPath = ManifestPath(answer.TargetImage, wave.Host);
        using var get = new HttpRequestMessage(HttpMethod.Get, manifestPath);
        get.Headers.Accept.ParseAdd("application/vnd.docker.distribution.manifest.v2+json");
        using var getResponse = await wave.Client.SendAsync(get, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, getResponse.StatusCode);
        var error = JsonNode.Parse(await getResponse.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!["errors"]![0]!;
        Assert.Equal("MANIFEST_UNKNOWN", error["code"]!.GetValue<string>());
        var message = error["message"]!.GetValue<string>();
        Assert.Contains($"build {buildId} of this image failed: exit code 3", message, StringComparison.Ordinal);
        Assert.Contains("about-to-fail", message, StringComparison.Ordinal);
        using var head = new HttpRequestMessage(HttpMethod.Head, manifestPath);
        using var headResponse = await wave.Client.SendAsync(head, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, headResponse.StatusCode);
        Assert.Contains("exit code 3", string.Join(" ", headResponse.Headers.GetValues("Wave-Error")), StringComparison.Ordinal);

        // And docker passes the reason on.
        var docker = await dockerFixture.GetAsync();
        var pull = await Assert.ThrowsAsync<CommandFailedException>(() => docker.RunAsync("pull", answer.TargetImage));
        Assert.Contains("exit code 3", pull.CommandOutput, StringComparison.Ordinal);

        var containerStatus = await wave.Client.GetFromJsonAsync<JsonNode>($"/v1alpha2/container/{answer.Token}/status", TestContext.Current.CancellationToken);
        Assert.Equal("DONE", containerStatus!["status"]!.GetValue<string>());
        Assert.False(containerStatus["succeeded"]!.GetValue<bool>());
        Assert.Equal("Container build did not complete successfully - exit code 3", containerStatus["reason"]!.GetValue<string>());
        Assert.EndsWith($"/view/builds/{buildId}", containerStatus["detailsUri"]!.GetValue<string>(), StringComparison.Ordinal);

        // A new request for the same recipe is a new attempt, not the failed build again.
        var retry = await wave.Client.PostContainerAsync(new { containerFile = BuildApi.Base64(dockerfile) });
        Assert.True(retry.Status == 200, retry.Text);
        Assert.Equal(buildId[..^1] + "2", retry.Body!["buildId"]!.GetValue<string>());
        Assert.False(retry.Body["cached"]!.GetValue<bool>());
        await wave.Client.WaitCompletedAsync(retry.Body["buildId"]!.GetValue<string>());
    }

    [Fact]
    public async Task Fifty_identical_concurrent_requests_start_exactly_one_build()
    {
        var (wave, registries) = await SetUpAsync();
        var dockerfile = $"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN echo once > /once.txt\n";
        var repository = $"{registries.Plain.Host}/wave/concurrent";
        var request = new { containerFile = BuildApi.Base64(dockerfile), buildRepository = repository, freeze = true };

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => wave.Client.PostContainerAsync(request)));

        Assert.All(answers, a => Assert.True(a.Status == 200, a.Text));
        var buildIds = answers.Select(a => a.Body!["buildId"]!.GetValue<string>()).Distinct().ToList();
        var buildId = Assert.Single(buildIds);
        Assert.Single(answers.Select(a => a.TargetImage).Distinct());
        Assert.StartsWith(repository + ":", answers[0].TargetImage, StringComparison.Ordinal);
        Assert.All(answers, a => Assert.Null(a.Body!["containerToken"]));
        Assert.All(answers, a => Assert.True(a.Body!["freeze"]!.GetValue<bool>()));
        // Every request that joined the running build must wait for it too (cached false, succeeded not yet known); only
        // one arriving after it completed may be cached, and then it is ready.
        Assert.All(answers, a => Assert.Equal(a.Body!["cached"]!.GetValue<bool>(), a.Body["succeeded"]?.GetValue<bool>() == true));
        Assert.Contains(answers, a => !a.Body!["cached"]!.GetValue<bool>());

        var status = await wave.Client.WaitCompletedAsync(buildId);
        Assert.True(status["succeeded"]!.GetValue<bool>(), await wave.Client.LogsAsync(buildId));
        var store = wave.Services.GetRequiredService<IBuildStore>();
        Assert.Equal(buildId, (await store.FindLatestByContainerIdAsync(buildId[3..19], TestContext.Current.CancellationToken))!.BuildId);
        Assert.Equal(1, CountOccurrences(await wave.Client.LogsAsync(buildId), "RUN echo once > /once.txt"));

        // After it succeeded, the same request is answered from the registry without a build.
        var after = await wave.Client.PostContainerAsync(request);
        Assert.True(after.Body!["cached"]!.GetValue<bool>());
        Assert.Equal(buildId, after.Body["buildId"]!.GetValue<string>());
        Assert.Equal(answers[0].TargetImage, after.TargetImage);
    }

    [Fact]
    public async Task Build_endpoints_answer_clear_errors()
    {
        var (wave, _) = await SetUpAsync();
        var cancellationToken = TestContext.Current.CancellationToken;

        foreach (var path in new[] { "", "/status", "/logs", "/condalock" })
        {
            var unknown = await WaveApi.ReadAsync(await wave.Client.GetAsync($"/v1alpha1/builds/bd-0123456789abcdef_1{path}", cancellationToken));
            Assert.Equal(404, unknown.Status);
            Assert.Equal("build bd-0123456789abcdef_1 is unknown", unknown.Message);

            var malformed = await WaveApi.ReadAsync(await wave.Client.GetAsync($"/v1alpha1/builds/not-a-build{path}", cancellationToken));
            Assert.Equal(400, malformed.Status);
            Assert.Equal("buildId", malformed.Field);
        }
    }

    internal static string ManifestPath(string targetImage, string waveHost)
    {
        var name = targetImage[(waveHost.Length + 1)..];
        var colon = name.LastIndexOf(':');
        return $"/v2/{name[..colon]}/manifests/{name[(colon + 1)..]}";
    }

    private static int CountOccurrences(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + value.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }
}
