using Wave.Core.Registry;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Builds.Local;

/// <summary>
/// Real buildah builds (vfs, chroot) from the busybox base images of the test registry, pushed to it, and checked
/// with independent clients: docker runs what was pushed, skopeo reads its digest, config and layers.
/// </summary>
public sealed class BuildahBuildTests(RegistryFixture registryFixture, DockerEngineFixture dockerFixture) : IAsyncDisposable
{
    private readonly LocalBuild _build = LocalBuild.Create();

    [Fact]
    public async Task An_amd64_build_with_a_run_step_is_pushed_and_docker_runs_it()
    {
        var registries = await registryFixture.GetAsync();
        var target = $"{registries.Plain.Host}/builds/amd64:{LocalBuild.UniqueTag()}";
        var job = LocalBuild.Job(target, $"""
            FROM {registries.Images.DockerV2}
            RUN echo built-by-wave > /built.txt
            CMD cat /built.txt
            """);
        var log = new CollectingLogSink();

        var outcome = await _build.RunAsync(job, null, log);

        Assert.True(outcome.Succeeded, $"{outcome.FailureReason}\n{log.Text}");
        Assert.Equal(0, outcome.ExitCode);
        Assert.Null(outcome.FailureReason);
        Assert.True(outcome.Duration > TimeSpan.Zero);
        Assert.Equal(await PushedImage.DigestAsync(target), outcome.ImageDigest);
        Assert.Contains("RUN echo built-by-wave > /built.txt", log.Text, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', log.Text);

        var docker = await dockerFixture.GetAsync();
        var output = await docker.RunAsync("run", "--rm", "--network", "none", target);
        Assert.Equal("built-by-wave", output.Trim());

        // The build's folder is gone and the built image left local storage; the base image stays as cache.
        Assert.Empty(_build.LeftoverBuildFolders());
        var images = await _build.ImagesAsync();
        Assert.DoesNotContain("wave-build", images, StringComparison.Ordinal);
        Assert.Contains("base/busybox", images, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Context_files_are_copied_into_the_image_and_layers_go_to_the_cache_repository()
    {
        var registries = await registryFixture.GetAsync();
        var target = $"{registries.Plain.Host}/builds/copy:{LocalBuild.UniqueTag()}";
        var cache = $"{registries.Plain.Host}/builds/cache-{LocalBuild.UniqueTag()}";
        const string conda = "name: wave-test\nchannels:\n  - conda-forge\ndependencies:\n  - samtools=1.17\n";
        var job = LocalBuild.Job(target, $"""
            FROM {registries.Images.DockerV2}
            COPY conda.yml /opt/wave/conda.yml
            COPY scripts/ /opt/wave/scripts/
            RUN sh /opt/wave/scripts/setup.sh > /opt/wave/setup.out
            """) with
        {
            ContextFiles = new Dictionary<string, string>
            {
                ["conda.yml"] = conda,
                ["scripts/setup.sh"] = "echo setup-ran\n",
            },
            CacheRepository = cache,
        };
        var log = new CollectingLogSink();

        var outcome = await _build.RunAsync(job, null, log);

        Assert.True(outcome.Succeeded, $"{outcome.FailureReason}\n{log.Text}");
        var docker = await dockerFixture.GetAsync();
        var output = await docker.RunAsync("run", "--rm", "--network", "none", target, "cat", "/opt/wave/conda.yml", "/opt/wave/setup.out");
        Assert.Equal(conda + "setup-ran\n", output);
        Assert.NotEmpty(await PushedImage.TagsAsync(cache));
    }

    [Fact]
    public async Task A_failing_run_step_fails_the_build_with_its_exit_code_and_keeps_its_output()
    {
        var registries = await registryFixture.GetAsync();
        var target = $"{registries.Plain.Host}/builds/failing:{LocalBuild.UniqueTag()}";
        var job = LocalBuild.Job(target, $"""
            FROM {registries.Images.DockerV2}
            RUN echo output-of-the-failing-step && exit 3
            """);
        var log = new CollectingLogSink();

        var outcome = await _build.RunAsync(job, null, log);

        Assert.False(outcome.Succeeded);
        Assert.NotNull(outcome.ExitCode);
        Assert.NotEqual(0, outcome.ExitCode);
        Assert.Equal($"exit code {outcome.ExitCode}", outcome.FailureReason);
        Assert.Null(outcome.ImageDigest);
        Assert.Contains("output-of-the-failing-step", log.Text.Split('\n'));
        Assert.Contains("exit status 3", log.Text, StringComparison.Ordinal);
        Assert.Empty(_build.LeftoverBuildFolders());
        using var http = new HttpClient();
        var manifest = await http.GetAsync($"http://{registries.Plain.Host}/v2/builds/failing/manifests/{job.TargetImage.Split(':')[^1]}", TestContext.Current.CancellationToken);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, manifest.StatusCode);
    }

    [Fact]
    public async Task A_build_past_its_timeout_is_killed_with_its_processes_and_reports_timed_out()
    {
        var registries = await registryFixture.GetAsync();
        var marker = "wave-timeout-" + LocalBuild.UniqueTag();
        var job = LocalBuild.Job($"{registries.Plain.Host}/builds/slow:{LocalBuild.UniqueTag()}", $"""
            FROM {registries.Images.DockerV2}
            RUN echo started-{marker} && sleep 30 && echo finished-{marker}
            """, timeout: TimeSpan.FromSeconds(5));
        // The base image is in storage already, so the few seconds go to the RUN step even on a busy machine.
        await _build.PullAsync(registries.Images.DockerV2);
        var log = new CollectingLogSink();
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var outcome = await _build.RunAsync(job, null, log);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        Assert.False(outcome.Succeeded);
        Assert.Equal("timed out", outcome.FailureReason);
        Assert.Null(outcome.ExitCode);
        // The step's own output (a line by itself, unlike the echoed RUN instruction) was kept; it never finished.
        var lines = log.Text.Split('\n');
        Assert.Contains($"started-{marker}", lines);
        Assert.DoesNotContain($"finished-{marker}", lines);
        Assert.Empty(_build.LeftoverBuildFolders());
        await AssertNoProcessUsesAsync(_build.Options.WorkDirectory, marker);
        Assert.Equal("", await _build.ContainersAsync());
    }

    [Fact]
    public async Task Cancelling_a_build_kills_it_keeps_its_log_and_throws()
    {
        var registries = await registryFixture.GetAsync();
        var marker = "wave-cancel-" + LocalBuild.UniqueTag();
        var job = LocalBuild.Job($"{registries.Plain.Host}/builds/cancelled:{LocalBuild.UniqueTag()}", $"""
            FROM {registries.Images.DockerV2}
            RUN echo started-{marker} && sleep 30
            """);
        var log = new CollectingLogSink();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);

        var running = _build.Backend.RunAsync(job, new Dictionary<string, RegistryCredentials>(), log, cancel.Token);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!log.Text.Split('\n').Contains($"started-{marker}") && !running.IsCompleted && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        Assert.False(running.IsCompleted, log.Text);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        Assert.Contains($"started-{marker}", log.Text.Split('\n'));
        Assert.Empty(_build.LeftoverBuildFolders());
        await AssertNoProcessUsesAsync(_build.Options.WorkDirectory, marker);
        Assert.Equal("", await _build.ContainersAsync());
    }

    [Fact]
    public async Task A_push_to_a_basic_auth_registry_uses_the_credentials_of_its_host_and_never_logs_them()
    {
        var registries = await registryFixture.GetAsync();
        var target = $"{registries.Basic.Host}/builds/private:{LocalBuild.UniqueTag()}";
        var job = LocalBuild.Job(target, $"""
            FROM {registries.Images.DockerV2}
            RUN echo private > /private.txt
            """);
        var user = RegistryFixture.BasicUser;

        var anonymousLog = new CollectingLogSink();
        var anonymous = await _build.RunAsync(job, null, anonymousLog);
        Assert.False(anonymous.Succeeded);
        Assert.StartsWith($"push of {target} failed", anonymous.FailureReason, StringComparison.Ordinal);

        var log = new CollectingLogSink();
        var outcome = await _build.RunAsync(job, new Dictionary<string, RegistryCredentials> { [registries.Basic.Host] = user }, log);

        Assert.True(outcome.Succeeded, $"{outcome.FailureReason}\n{log.Text}");
        Assert.Equal(await PushedImage.DigestAsync(target, user), outcome.ImageDigest);
        var basic = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{user.Username}:{user.Password}"));
        Assert.DoesNotContain(user.Password, log.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(basic, log.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(user.Password, anonymousLog.Text, StringComparison.Ordinal);
        Assert.Empty(_build.LeftoverBuildFolders()); // the auth file went with the build's folder
    }

    /// <summary>No process may be left of a killed build: none naming the work directory or the marker, none chrooted into it.</summary>
    private static async Task AssertNoProcessUsesAsync(string workDirectory, string marker)
    {
        var survivors = new List<string>();
        for (var attempt = 0; attempt < 50; attempt++)
        {
            survivors = Survivors(workDirectory, marker);
            if (survivors.Count == 0)
            {
                return;
            }
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        Assert.Fail("processes of the timed-out build are still running:\n" + string.Join('\n', survivors));
    }

    private static List<string> Survivors(string workDirectory, string marker)
    {
        var found = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            try
            {
                var commandLine = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                var root = new FileInfo(Path.Combine(dir, "root")).LinkTarget ?? "";
                if (commandLine.Contains(workDirectory, StringComparison.Ordinal) || commandLine.Contains(marker, StringComparison.Ordinal)
                    || root.StartsWith(workDirectory, StringComparison.Ordinal))
                {
                    found.Add($"{pid}: {commandLine} (root {root})");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return found;
    }

    public ValueTask DisposeAsync() => _build.DisposeAsync();
}
