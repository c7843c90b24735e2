using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

using Wave.Tests.Contract;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Records;

namespace Wave.Tests.Mirrors;

/// <summary>
/// Mirror requests end to end, as nf-wave and wave-cli send them, through a real Wave host: the copy runs on its
/// builder, from a real registry to another real registry (htpasswd auth, with the login the request brought from
/// Platform), and the result is read back with skopeo. The target relay sees every request the target registry gets.
/// </summary>
public sealed class MirrorTests(RegistryFixture registryFixture, MirrorFixture mirrorFixture) : IClassFixture<MirrorFixture>
{
    private static readonly TimeSpan MaxAwait = TimeSpan.FromMinutes(3);

    private async Task<MirrorEnvironment> SetUpAsync() => await mirrorFixture.GetAsync(await registryFixture.GetAsync());

    private static string Unique() => Guid.NewGuid().ToString("N")[..10];

    private static string Sha256(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static Task<string> SkopeoAsync(params string[] args) => RecordsTestSupport.SkopeoAsync(args);

    private static string Creds(MirrorEnvironment env) => $"{env.TargetLogin.Username}:{env.TargetLogin.Password}";

    private static async Task<long> MirrorMetricAsync(MirrorEnvironment env, string query)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, query);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"metrics:{MirrorFixture.MetricsPassword}")));
        using var response = await env.Wave.Client.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonNode.Parse(text)!["count"]!.GetValue<long>();
    }

    [Fact]
    public async Task NfWave_mirror_of_a_multi_arch_index_copies_both_platforms_once_for_two_requests_with_the_source_digests()
    {
        var env = await SetUpAsync();
        var prefix = $"mirrors/{Unique()}";
        var today = DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var mirrorsBefore = await MirrorMetricAsync(env, $"/v1alpha2/metrics/mirrors?date={today}&org=example.org");
        var amd64Before = await MirrorMetricAsync(env, $"/v1alpha3/metrics/mirrors?date={today}&org=example.org&arch=amd64");
        // Downloads held until both requests were answered and the status read: the copy certainly still runs meanwhile.
        using var held = env.Source.HoldBlobs();
        var request = new NfWaveRequest
        {
            ContainerImage = env.ViaSource(env.Registries.Images.MultiArch),
            ContainerPlatform = "linux/amd64",
            BuildRepository = $"{env.Target.Host}/{prefix}",
            Mirror = true,
            TowerEndpoint = env.Platform.Endpoint,
            TowerWorkspaceId = null,
        };
        var nf = new NfWaveClient(env.Wave.Client, PlatformStub.AccessToken);
        var answers = new List<string>();

        var first = await nf.SendRequestAsync(request);
        var second = await nf.SendRequestAsync(request);

        var target = $"{env.Target.Host}/{prefix}/base/busybox:multi";
        var mirrorId = first.Response.BuildId!;
        Assert.Matches("^mr-[0-9a-f]{16}_1$", mirrorId);
        foreach (var handle in new[] { first, second })
        {
            var answer = handle.Response;
            Assert.Equal(target, answer.TargetImage);
            Assert.Equal(target, answer.ContainerImage);
            Assert.True(answer.Mirror);
            Assert.False(answer.Freeze);
            Assert.Equal(mirrorId, answer.BuildId);
            Assert.Null(answer.ContainerToken);
            // The copy is not done: the client must wait, for the request that started it and the one that joined it alike.
            Assert.False(answer.Cached);
            Assert.Null(answer.Succeeded);
            Assert.NotNull(answer.RequestId);
        }
        Assert.NotEqual(first.Response.RequestId, second.Response.RequestId);
        var pending = await env.Wave.GetAsync($"/v1alpha2/container/{second.Response.RequestId}/status");
        answers.Add(pending.Text);
        Assert.Equal("PENDING", pending.Body!["status"]!.GetValue<string>());
        Assert.Equal(mirrorId, pending.Body["mirrorId"]!.GetValue<string>());
        Assert.Null(pending.Body["buildId"]);
        Assert.False(await nf.IsContainerReadyAsync(second), "the client must wait while the copy runs");
        held.Dispose();

        await nf.AwaitReadyAsync(second, MaxAwait);
        Assert.True(await nf.IsContainerReadyAsync(first));
        Assert.All(nf.StatusCalls, call => Assert.Equal("container", call));

        // The target, read back with skopeo: the same index digest, both platforms by their source digests.
        var sourceIndex = JsonNode.Parse(await SkopeoAsync("inspect", "--raw", "--tls-verify=false", $"docker://{env.Registries.Images.MultiArch}"))!;
        var targetIndex = JsonNode.Parse(await SkopeoAsync("inspect", "--raw", "--tls-verify=false", "--creds", Creds(env), $"docker://{env.Direct(target)}"))!;
        Assert.Equal(sourceIndex.ToJsonString(), targetIndex.ToJsonString());
        var sourceDigest = (await SkopeoAsync("inspect", "--tls-verify=false", "--format", "{{.Digest}}", $"docker://{env.Registries.Images.MultiArch}")).Trim();
        Assert.Equal(sourceDigest, (await SkopeoAsync("inspect", "--tls-verify=false", "--creds", Creds(env), "--format", "{{.Digest}}", $"docker://{env.Direct(target)}")).Trim());
        var platforms = targetIndex["manifests"]!.AsArray().Select(m => (Arch: m!["platform"]!["architecture"]!.GetValue<string>(), Digest: m["digest"]!.GetValue<string>())).ToList();
        Assert.Equal(["amd64", "arm64"], platforms.Select(p => p.Arch).Order());
        var blobs = new List<string>();
        foreach (var (arch, digest) in platforms)
        {
            // A real pull of each platform (skopeo verifies every blob it reads); its manifest is the source's, byte for byte.
            var pulled = Directory.CreateTempSubdirectory("wave-mirror-pull-").FullName;
            await SkopeoAsync("copy", "--src-tls-verify=false", "--src-creds", Creds(env), "--override-os", "linux", "--override-arch", arch,
                $"docker://{env.Direct(target)}", $"dir:{pulled}");
            var manifest = await File.ReadAllBytesAsync(Path.Combine(pulled, "manifest.json"), TestContext.Current.CancellationToken);
            Assert.Equal(digest, Sha256(manifest));
            var parsed = JsonNode.Parse(manifest)!;
            blobs.Add(parsed["config"]!["digest"]!.GetValue<string>());
            blobs.AddRange(parsed["layers"]!.AsArray().Select(l => l!["digest"]!.GetValue<string>()));
            Directory.Delete(pulled, recursive: true);
        }

        // Two requests, one copy: every blob was uploaded to the target exactly once.
        Assert.All(blobs.Distinct(), blob => Assert.Equal(1, env.Target.UploadsOf(blob)));

        var record = await env.Wave.GetAsync($"/v1alpha1/mirrors/{mirrorId}");
        answers.Add(record.Text);
        Assert.True(record.Status == 200, record.Text);
        Assert.Equal(mirrorId, record.Body!["mirrorId"]!.GetValue<string>());
        Assert.Equal(sourceDigest, record.Body["digest"]!.GetValue<string>());
        Assert.Equal(request.ContainerImage, record.Body["sourceImage"]!.GetValue<string>());
        Assert.Equal(target, record.Body["targetImage"]!.GetValue<string>());
        Assert.Equal("COMPLETED", record.Body["status"]!.GetValue<string>());
        Assert.Equal(0, record.Body["exitCode"]!.GetValue<int>());
        Assert.True(record.Body["succeeded"]!.GetValue<bool>());
        Assert.Equal(PlatformStub.UserId, record.Body["userId"]!.GetValue<long>());
        Assert.Null(record.Body["userName"]);
        Assert.Equal(blobs.Distinct().Count(), record.Body["blobsCopied"]!.GetValue<int>());
        Assert.Equal(0, record.Body["blobsSkipped"]!.GetValue<int>());
        Assert.True(record.Body["duration"]!.GetValue<double>() > 0);
        _ = ClientJson.Instant(record.Body["creationTime"]!.GetValue<string>(), record.Text);
        Assert.Contains("an index", record.Body["logs"]!.GetValue<string>(), StringComparison.Ordinal);

        using (var logs = await env.Wave.Client.GetAsync($"/v1alpha1/mirrors/{mirrorId}/logs", TestContext.Current.CancellationToken))
        {
            var text = await logs.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            answers.Add(text);
            Assert.True(logs.IsSuccessStatusCode, text);
            Assert.Equal("application/octet-stream", logs.Content.Headers.ContentType?.MediaType);
            Assert.Equal($"attachment; filename={mirrorId}.log", logs.Content.Headers.ContentDisposition?.ToString());
            Assert.Contains($"tag multi set to {sourceDigest}", text, StringComparison.Ordinal);
        }
        var page = await env.Wave.Client.GetStringAsync($"/view/mirrors/{mirrorId}", TestContext.Current.CancellationToken);
        answers.Add(page);
        Assert.Contains("SUCCEEDED", page, StringComparison.Ordinal);
        Assert.Contains(System.Net.WebUtility.HtmlEncode(target), page, StringComparison.Ordinal);

        var done = await env.Wave.GetAsync($"/v1alpha2/container/{first.Response.RequestId}/status");
        answers.Add(done.Text);
        var status = ClientJson.ParseContainerStatus(done.Text);
        Assert.Equal(("DONE", true), (status.Status, status.Succeeded));
        Assert.Equal(mirrorId, done.Body!["mirrorId"]!.GetValue<string>());
        Assert.Null(status.Reason);
        var containerRecord = await env.Wave.GetAsync($"/v1alpha2/container/{first.Response.RequestId}");
        answers.Add(containerRecord.Text);
        Assert.True(containerRecord.Body!["mirror"]!.GetValue<bool>());
        Assert.False(containerRecord.Body["freeze"]!.GetValue<bool>());
        Assert.True(containerRecord.Body["buildNew"]!.GetValue<bool>());
        Assert.Equal(mirrorId, containerRecord.Body["buildId"]!.GetValue<string>());
        Assert.Equal(target, containerRecord.Body["waveImage"]!.GetValue<string>());
        var joinedRecord = await env.Wave.GetAsync($"/v1alpha2/container/{second.Response.RequestId}");
        Assert.False(joinedRecord.Body!["buildNew"]!.GetValue<bool>());

        // Once copied, the same request is answered at once: cached, succeeded, the same mirror, and nothing is uploaded.
        var uploads = env.Target.Requests.Count(r => r.Method is "POST" or "PUT" or "PATCH");
        var third = await nf.SendRequestAsync(request);
        Assert.Equal((true, true, mirrorId), (third.Response.Cached, third.Response.Succeeded, third.Response.BuildId));
        var calls = nf.StatusCalls.Count;
        Assert.True(await nf.IsContainerReadyAsync(third));
        Assert.Equal(calls, nf.StatusCalls.Count);
        Assert.Equal(uploads, env.Target.Requests.Count(r => r.Method is "POST" or "PUT" or "PATCH"));

        // One copy started, counted once, by the user's organisation and the platform the request named.
        Assert.Equal(mirrorsBefore + 1, await MirrorMetricAsync(env, $"/v1alpha2/metrics/mirrors?date={today}&org=example.org"));
        Assert.Equal(amd64Before + 1, await MirrorMetricAsync(env, $"/v1alpha3/metrics/mirrors?date={today}&org=example.org&arch=amd64"));

        // The login came from Platform and went to the builder sealed: no answer and no log line shows it or the token.
        foreach (var secret in new[] { env.TargetLogin.Password, PlatformStub.AccessToken })
        {
            Assert.All(answers, text => Assert.DoesNotContain(secret, text, StringComparison.Ordinal));
            Assert.DoesNotContain(secret, env.Logs.Text, StringComparison.Ordinal);
        }
        Assert.Contains(env.Logs.Lines, line => line.Contains(mirrorId, StringComparison.Ordinal) && line.Contains("completed: succeeded", StringComparison.Ordinal));
    }

    private static JsonObject WaveCliMirror(MirrorEnvironment env, string image, string buildRepository) => WaveCliClient.Request(new
    {
        containerImage = image,
        mirror = true,
        buildRepository,
        towerAccessToken = PlatformStub.AccessToken,
        towerEndpoint = env.Platform.Endpoint,
    });

    [Fact]
    public async Task WaveCli_await_mirror_does_not_upload_the_blobs_the_target_repository_has_already()
    {
        var env = await SetUpAsync();
        var cancellationToken = TestContext.Current.CancellationToken;
        // Two tags of one private repository (Bearer-token registry, Wave's configured login) sharing their first layer.
        var repository = $"mirror-src/{Unique()}";
        using var pusher = new RegistryPusher(env.Registries.Bearer);
        static byte[] Layer() => RandomNumberGenerator.GetBytes(64 * 1024);
        var shared = Layer();
        var first = await pusher.PushImageAsync(repository, "a", [shared, Layer()], cancellationToken);
        var second = await pusher.PushImageAsync(repository, "b", [shared, Layer()], cancellationToken);
        Assert.Equal(first[0], second[0]);
        var buildRepository = $"{env.Target.Host}/mirrors/{Unique()}";
        var cli = new WaveCliClient(env.Wave.Client);

        var (a, aStatus) = await cli.RunAsync(WaveCliMirror(env, $"{env.Registries.Bearer.Host}/{repository}:a", buildRepository), MaxAwait);
        Assert.Equal(("DONE", true), (aStatus!.Status, aStatus.Succeeded));
        Assert.Equal(1, env.Target.UploadsOf(first[0]));

        var (b, bStatus) = await cli.RunAsync(WaveCliMirror(env, $"{env.Registries.Bearer.Host}/{repository}:b", buildRepository), MaxAwait);
        Assert.Equal(("DONE", true), (bStatus!.Status, bStatus.Succeeded));
        Assert.True(cli.StatusCalls >= 2, "wave-cli --await polled the container status of both");
        Assert.Equal($"{buildRepository}/{repository}:b", b.TargetImage);
        Assert.NotEqual(a.BuildId, b.BuildId);

        // The shared layer went up once, with the first copy; the second asked (HEAD) and skipped it.
        Assert.Equal(1, env.Target.UploadsOf(first[0]));
        Assert.Equal(1, env.Target.UploadsOf(second[1]));
        Assert.Equal(2, env.Target.Requests.Count(r => r.Method == "HEAD" && r.Path.EndsWith("/blobs/" + first[0], StringComparison.Ordinal)));
        var record = await env.Wave.GetAsync($"/v1alpha1/mirrors/{b.BuildId}");
        Assert.Equal(1, record.Body!["blobsSkipped"]!.GetValue<int>());
        Assert.Equal(2, record.Body["blobsCopied"]!.GetValue<int>());
        Assert.Contains($"blob {first[0]} (65536 bytes) is at the target already: not copied", record.Body["logs"]!.GetValue<string>(), StringComparison.Ordinal);

        var source = (await SkopeoAsync("inspect", "--tls-verify=false", "--creds", $"{env.Registries.Bearer.Credentials!.Username}:{env.Registries.Bearer.Credentials.Password}",
            "--format", "{{.Digest}}", $"docker://{env.Registries.Bearer.Host}/{repository}:b")).Trim();
        Assert.Equal(source, (await SkopeoAsync("inspect", "--tls-verify=false", "--creds", Creds(env), "--format", "{{.Digest}}", $"docker://{env.Direct(b.TargetImage)}")).Trim());
        Assert.DoesNotContain(env.Registries.Bearer.Credentials.Password, env.Logs.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_copy_the_source_spoils_is_done_and_failed_with_its_reason_and_a_request_after_the_repair_copies_again()
    {
        var env = await SetUpAsync();
        await using var upstream = await ScriptedUpstreamFor.StartAsync();
        upstream.Fault = Faults.UpstreamFault.TruncatedBlobs;
        var buildRepository = $"{env.Target.Host}/mirrors/{Unique()}";
        var cli = new WaveCliClient(env.Wave.Client);
        var request = WaveCliMirror(env, upstream.Image, buildRepository);

        var failure = await Assert.ThrowsAsync<ClientProtocolException>(() => cli.RunAsync(request, MaxAwait));

        Assert.Contains("Container provisioning did not complete successfully", failure.Message, StringComparison.Ordinal);
        Assert.Contains("- Reason: Container mirror did not complete successfully - registry " + upstream.Host + " sent ", failure.Message, StringComparison.Ordinal);
        Assert.Matches(@"- Find out more here: http://127\.0\.0\.1:\d+/view/mirrors/mr-[0-9a-f]{16}_1", failure.Message);
        var (_, body) = await cli.PostAsync(request);
        var failedId = JsonNode.Parse(body)!["buildId"]!.GetValue<string>();
        Assert.EndsWith("_2", failedId, StringComparison.Ordinal);
        // That request started attempt 2 while the source was still spoiled; wait for it to fail too.
        await WaitCompletedAsync(env, failedId);
        var record = await env.Wave.GetAsync($"/v1alpha1/mirrors/{failedId}");
        Assert.Equal(("COMPLETED", 1, false), (record.Body!["status"]!.GetValue<string>(), record.Body["exitCode"]!.GetValue<int>(), record.Body["succeeded"]!.GetValue<bool>()));
        Assert.Contains("bytes of blob", record.Body["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("FAILED", await env.Wave.Client.GetStringAsync($"/view/mirrors/{failedId}", TestContext.Current.CancellationToken), StringComparison.Ordinal);

        upstream.Fault = Faults.UpstreamFault.Honest;
        var (repaired, status) = await cli.RunAsync(request, MaxAwait);
        Assert.Equal(("DONE", true), (status!.Status, status.Succeeded));
        Assert.EndsWith("_3", repaired.BuildId, StringComparison.Ordinal);
        var digest = (await SkopeoAsync("inspect", "--tls-verify=false", "--creds", Creds(env), "--format", "{{.Digest}}", $"docker://{env.Direct(repaired.TargetImage)}")).Trim();
        Assert.Equal(Faults.ScriptedUpstream.Sha256(upstream.Manifest), digest);
    }

    private static async Task WaitCompletedAsync(MirrorEnvironment env, string mirrorId)
    {
        var deadline = DateTime.UtcNow + MaxAwait;
        while ((await env.Wave.GetAsync($"/v1alpha1/mirrors/{mirrorId}")).Body?["status"]?.GetValue<string>() != "COMPLETED")
        {
            Assert.True(DateTime.UtcNow < deadline, $"mirror {mirrorId} did not complete");
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task A_dry_run_answers_the_mirror_it_would_start_and_records_nothing()
    {
        var env = await SetUpAsync();
        var buildRepository = $"{env.Target.Host}/mirrors/{Unique()}";
        var nf = new NfWaveClient(env.Wave.Client, PlatformStub.AccessToken);

        var (status, body) = await nf.PostAsync(new NfWaveRequest
        {
            ContainerImage = env.Registries.Images.DockerV2,
            Mirror = true,
            BuildRepository = buildRepository,
            DryRun = true,
            TowerEndpoint = env.Platform.Endpoint,
            TowerAccessToken = PlatformStub.AccessToken,
        });

        Assert.True(status == 200, body);
        var answer = JsonNode.Parse(body)!;
        var dryId = answer["buildId"]!.GetValue<string>();
        Assert.Matches("^mr-[0-9a-f]{16}_0$", dryId);
        Assert.True(answer["dryRun"]!.GetValue<bool>());
        Assert.False(answer["cached"]!.GetValue<bool>());
        Assert.True(answer["mirror"]!.GetValue<bool>());
        Assert.Equal(404, (await env.Wave.GetAsync($"/v1alpha1/mirrors/{dryId[..^1]}1")).Status);
        Assert.Equal(404, (await env.Wave.GetAsync($"/v1alpha2/container/{answer["requestId"]!.GetValue<string>()}")).Status);
        // The relay is the class's: only this request's repository is looked at, as an earlier test's mirror may still write.
        var repositoryPath = $"/v2/{buildRepository[(env.Target.Host.Length + 1)..]}/";
        Assert.DoesNotContain(env.Target.Requests, r => r.Method is "POST" or "PUT" && r.Path.StartsWith(repositoryPath, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_target_the_request_has_no_login_for_is_a_400_naming_buildRepository_and_bad_mirror_ids_are_refused()
    {
        var env = await SetUpAsync();
        // The htpasswd registry under its own name: Wave's configured login works there, so use the Basic registry
        // through a second relay name that neither Platform nor Wave has a login for.
        await using var anonymousTarget = await RegistryRelay.StartAsync(env.Registries.Basic);
        var answer = await env.Wave.Client.PostContainerAsync(new
        {
            containerImage = env.Registries.Images.DockerV2,
            mirror = true,
            buildRepository = $"{anonymousTarget.Host}/mirrors/x",
            towerAccessToken = PlatformStub.AccessToken,
            towerEndpoint = env.Platform.Endpoint,
        });
        Assert.Equal(400, answer.Status);
        Assert.Equal("buildRepository", answer.Field);
        Assert.StartsWith($"buildRepository '{anonymousTarget.Host}/mirrors/x/base/busybox' cannot be accessed", answer.Message, StringComparison.Ordinal);

        var missing = await env.Wave.Client.PostContainerAsync(new
        {
            containerImage = env.Registries.Plain.Host + "/base/none:v1",
            mirror = true,
            buildRepository = $"{env.Target.Host}/mirrors/x",
            towerAccessToken = PlatformStub.AccessToken,
            towerEndpoint = env.Platform.Endpoint,
        });
        Assert.Equal((400, "containerImage"), (missing.Status, missing.Field));

        var malformed = await env.Wave.GetAsync("/v1alpha1/mirrors/bd-0123456789abcdef_1");
        Assert.Equal((400, "mirrorId"), (malformed.Status, malformed.Field));
        Assert.Equal(404, (await env.Wave.GetAsync("/v1alpha1/mirrors/mr-0123456789abcdef_1")).Status);
        Assert.Equal(404, (await env.Wave.GetAsync("/v1alpha1/mirrors/mr-0123456789abcdef_1/logs")).Status);
        using var page = await env.Wave.Client.GetAsync("/view/mirrors/mr-0123456789abcdef_1", TestContext.Current.CancellationToken);
        Assert.Equal(404, (int)page.StatusCode);
    }

    [Fact]
    public async Task With_push_registries_configured_a_mirror_pushes_with_wave_s_own_login_only_there()
    {
        var env = await SetUpAsync();
        var settings = MirrorEndpoints.HostSettings(env.Registries, new Dictionary<string, string?> { ["Wave:Build:PushRegistries:0"] = env.Registries.Plain.Host });
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Api, settings);
        object Mirror(string buildRepository) => new
        {
            containerImage = env.ViaSource(env.Registries.Images.DockerV2),
            mirror = true,
            buildRepository,
            dryRun = true,
            towerAccessToken = PlatformStub.AccessToken,
            towerEndpoint = env.Platform.Endpoint,
        };

        // Wave holds a login for the htpasswd registry, but its builds may not push there: neither may a mirror with it.
        var refused = await wave.Client.PostContainerAsync(Mirror($"{env.Registries.Basic.Host}/mirrors/x"));
        Assert.Equal((400, "buildRepository"), (refused.Status, refused.Field));
        Assert.Contains($"where this Wave service cannot push with its own login (it can push to: {env.Registries.Plain.Host})", refused.Message, StringComparison.Ordinal);
        // The same registry under the relay's name, for which the user keeps a login on Platform: the user's login pushes.
        var accepted = await wave.Client.PostContainerAsync(Mirror($"{env.Target.Host}/mirrors/x"));
        Assert.True(accepted.Status == 200, accepted.Text);
    }

    [Fact]
    public async Task A_required_scan_of_a_mirror_holds_it_until_the_copy_and_the_scan_are_done_and_fails_it_on_a_disallowed_severity()
    {
        var env = await SetUpAsync();
        var image = await Scans.ScanTestImages.PushAsync(env.Registries.Plain, $"mirror-scans/{Unique()}", "1.0", Scans.ScanTestImages.DebianCondaLayers());
        var database = Scans.TestOsvDatabase.WriteFolder(Directory.CreateTempSubdirectory("wave-mirror-osv-").FullName);
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded,
            MirrorEndpoints.HostSettings(env.Registries, new Dictionary<string, string?> { [Wave.Core.Scans.ScanOptions.DatabaseSetting] = database }));
        var nf = new NfWaveClient(wave.Client, PlatformStub.AccessToken);

        var handle = await nf.SendRequestAsync(new NfWaveRequest
        {
            ContainerImage = image,
            Mirror = true,
            BuildRepository = $"{env.Target.Host}/mirrors/{Unique()}",
            TowerEndpoint = env.Platform.Endpoint,
            ScanMode = "required",
            ScanLevels = ["LOW"],
        });

        Assert.Matches("^sc-[0-9a-f]{16}_1$", handle.Response.ScanId);
        Assert.Null(handle.Response.Succeeded);
        var failure = await Assert.ThrowsAsync<ClientProtocolException>(() => nf.AwaitReadyAsync(handle, MaxAwait));
        Assert.Contains("found vulnerabilities of a severity the request does not allow", failure.Message, StringComparison.Ordinal);
        var status = await wave.GetAsync($"/v1alpha2/container/{handle.Response.RequestId}/status");
        Assert.Equal(("DONE", false), (status.Body!["status"]!.GetValue<string>(), status.Body["succeeded"]!.GetValue<bool>()));
        Assert.Equal(handle.Response.BuildId, status.Body["mirrorId"]!.GetValue<string>());
        Assert.Equal(handle.Response.ScanId, status.Body["scanId"]!.GetValue<string>());
        Assert.True(status.Body["vulnerabilities"]!.AsObject().Count > 0, status.Text);
        // The copy itself succeeded: the mirror's record says so; the scan is what holds the container back.
        var mirror = await wave.GetAsync($"/v1alpha1/mirrors/{handle.Response.BuildId}");
        Assert.True(mirror.Body!["succeeded"]!.GetValue<bool>(), mirror.Text);
        Assert.Equal(handle.Response.ScanId, mirror.Body["scanId"]?.GetValue<string>());
        var scan = await wave.GetAsync($"/v1alpha1/scans/{handle.Response.ScanId}");
        Assert.Equal(handle.Response.BuildId, scan.Body!["mirrorId"]?.GetValue<string>());
    }
}

/// <summary>A <see cref="Faults.ScriptedUpstream"/> as a mirror source.</summary>
internal static class ScriptedUpstreamFor
{
    public static Task<Faults.ScriptedUpstream> StartAsync() => Faults.ScriptedUpstream.StartAsync("mirrored from a scripted registry " + Guid.NewGuid().ToString("N"));
}
