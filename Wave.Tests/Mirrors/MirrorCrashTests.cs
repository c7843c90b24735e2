using System.Security.Cryptography;

using Wave.Tests.Contract;
using Wave.Tests.EndToEnd;
using Wave.Tests.Faults;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Persistence;
using Wave.Tests.Records;

namespace Wave.Tests.Mirrors;

/// <summary>
/// A copy is as durable as a build: cut short by a stop of the embedded service, or by a builder killed mid-copy in
/// distributed mode (Postgres + RabbitMQ, the builder a process of its own), its job comes back, the next run takes the
/// copy over under the same mirror id, skips the blobs the target got before the cut, and completes it once.
/// </summary>
public sealed class MirrorCrashTests(RegistryFixture registryFixture, PostgresFixture postgresFixture, RabbitMqFixture rabbitFixture)
{
    private static readonly TimeSpan MaxAwait = TimeSpan.FromMinutes(3);

    private static NfWaveRequest Request(MirrorEndpoints endpoints, string prefix) => new()
    {
        ContainerImage = endpoints.ViaSource(endpoints.Registries.Images.MultiArch),
        BuildRepository = $"{endpoints.Target.Host}/{prefix}",
        Mirror = true,
        TowerEndpoint = endpoints.Platform.Endpoint,
    };

    /// <summary>Blob uploads the target registry completed (201 to the closing PUT).</summary>
    private static int UploadsDone(MirrorEndpoints endpoints) => endpoints.Target.UploadsCompleted.Count;

    private static async Task WaitForAsync(Func<bool> condition, string what, Func<string>? details = null)
    {
        var deadline = DateTime.UtcNow + MaxAwait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"{what} did not happen{(details is null ? "" : ":\n" + details())}");
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    private static async Task<System.Text.Json.Nodes.JsonNode> WaitCompletedAsync(WaveTestHost api, string mirrorId)
    {
        var deadline = DateTime.UtcNow + MaxAwait;
        while (true)
        {
            var record = await api.GetAsync($"/v1alpha1/mirrors/{mirrorId}");
            if (record.Body?["status"]?.GetValue<string>() == "COMPLETED")
            {
                return record.Body;
            }
            Assert.True(DateTime.UtcNow < deadline, $"mirror {mirrorId} did not complete: {record.Text}");
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
    }

    private static async Task AssertMirroredAsync(MirrorEndpoints endpoints, string targetImage)
    {
        var creds = $"{endpoints.TargetLogin.Username}:{endpoints.TargetLogin.Password}";
        var source = (await RecordsTestSupport.SkopeoAsync("inspect", "--tls-verify=false", "--format", "{{.Digest}}", $"docker://{endpoints.Registries.Images.MultiArch}")).Trim();
        var target = (await RecordsTestSupport.SkopeoAsync("inspect", "--tls-verify=false", "--creds", creds, "--format", "{{.Digest}}", $"docker://{endpoints.Direct(targetImage)}")).Trim();
        Assert.Equal(source, target);
    }

    [Fact]
    public async Task A_copy_cut_short_by_a_stop_of_the_embedded_service_is_resumed_after_the_restart()
    {
        var registries = await registryFixture.GetAsync();
        await using var endpoints = await MirrorEndpoints.StartAsync(registries);
        var settings = MirrorEndpoints.HostSettings(registries, new Dictionary<string, string?>
        {
            ["Wave:DataDirectory"] = Directory.CreateTempSubdirectory("wave-mirror-restart-").FullName,
            // One blob at a time, slowly: the stop comes after the first upload and before the last.
            ["Wave:Mirror:ParallelBlobs"] = "1",
        });
        endpoints.Source.BlobDelay = TimeSpan.FromSeconds(1.5);

        string mirrorId, targetImage;
        await using (var before = await WaveTestHost.StartAsync(WaveRole.Embedded, settings))
        {
            var handle = await new NfWaveClient(before.Client, PlatformStub.AccessToken).SendRequestAsync(Request(endpoints, $"mirrors/{Guid.NewGuid():N}"));
            (mirrorId, targetImage) = (handle.Response.BuildId!, handle.Response.TargetImage);
            await WaitForAsync(() => UploadsDone(endpoints) >= 1, "the first blob upload");
        }
        var cut = UploadsDone(endpoints);
        endpoints.Source.BlobDelay = TimeSpan.Zero;

        await using var after = await WaveTestHost.StartAsync(WaveRole.Embedded, settings);
        var record = await WaitCompletedAsync(after, mirrorId);

        Assert.True(record["succeeded"]!.GetValue<bool>(), record.ToJsonString());
        Assert.Equal(1, record["attempt"]!.GetValue<int>());
        var logs = record["logs"]!.GetValue<string>();
        Assert.Contains("--- mirror started again", logs, StringComparison.Ordinal);
        Assert.True(cut is >= 1 and < 4, $"the stop came after {cut} of the 4 uploads");
        Assert.Equal(cut, record["blobsSkipped"]!.GetValue<int>());
        Assert.Equal(4 - cut, record["blobsCopied"]!.GetValue<int>());
        Assert.Equal(1, logs.Split('\n').Count(l => l.StartsWith("[mirror] done", StringComparison.Ordinal)));
        await AssertMirroredAsync(endpoints, targetImage);
    }

    [Fact]
    public async Task A_builder_killed_mid_copy_gives_the_job_back_and_the_next_builder_completes_it_once()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var registries = await registryFixture.GetAsync();
        var postgres = await postgresFixture.GetAsync();
        var rabbit = await rabbitFixture.GetAsync();
        await using var endpoints = await MirrorEndpoints.StartAsync(registries);
        var settings = DistributedBuild.Settings(registries, "killed-mirror", await postgres.CreateDatabaseAsync(cancellationToken), rabbit.ConnectionString);
        foreach (var (key, value) in MirrorEndpoints.HostSettings(registries, null))
        {
            settings.TryAdd(key, value);
        }
        settings["Wave:Build:Lease:Timeout"] = "00:00:05";
        settings["Wave:Mirror:ParallelBlobs"] = "1";
        // Api and builders share no state store here: the Platform login travels sealed under a key they share, as a deployment sets it.
        settings["Wave:Security:CredentialsKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        await using var api = await WaveTestHost.StartAsync(WaveRole.Api, settings);
        var apiLogs = LogCapture.Attach(api);
        endpoints.Source.BlobDelay = TimeSpan.FromSeconds(1);

        var first = await DistributedBuild.StartBuilderAsync(settings);
        var handle = await new NfWaveClient(api.Client, PlatformStub.AccessToken).SendRequestAsync(Request(endpoints, $"mirrors/{Guid.NewGuid():N}"));
        var mirrorId = handle.Response.BuildId!;
        await WaitForAsync(() => UploadsDone(endpoints) >= 1, "the first blob upload", () => first.Output);
        first.Kill();
        Assert.True(await first.WaitForExitAsync(TimeSpan.FromSeconds(30)) != 0 || first.HasExited, "the builder was killed");
        var firstOutput = first.Output;
        await first.DisposeAsync();
        var cut = UploadsDone(endpoints);
        Assert.Equal("RUNNING", (await api.GetAsync($"/v1alpha1/mirrors/{mirrorId}")).Body!["state"]!.GetValue<string>());
        endpoints.Source.BlobDelay = TimeSpan.Zero;

        await using var second = await DistributedBuild.StartBuilderAsync(settings);
        var record = await WaitCompletedAsync(api, mirrorId);

        Assert.True(record["succeeded"]!.GetValue<bool>(), record.ToJsonString() + "\n" + second.Output);
        Assert.Equal(1, record["attempt"]!.GetValue<int>());
        var logs = record["logs"]!.GetValue<string>();
        Assert.Contains("--- mirror started again: the builder that copied it stopped renewing its lease", logs, StringComparison.Ordinal);
        Assert.Equal(1, logs.Split('\n').Count(l => l.StartsWith("[mirror] done", StringComparison.Ordinal)));
        Assert.True(record["blobsSkipped"]!.GetValue<int>() >= 1, $"the blobs uploaded before the kill ({cut}) are skipped: {record.ToJsonString()}");
        await AssertMirroredAsync(endpoints, handle.Response.TargetImage);
        var status = ClientJson.ParseContainerStatus((await api.GetAsync($"/v1alpha2/container/{handle.Response.RequestId}/status")).Text);
        Assert.Equal(("DONE", true), (status.Status, status.Succeeded));
        // Neither process wrote the Platform login or token anywhere.
        foreach (var text in new[] { firstOutput, second.Output, apiLogs.Text, record.ToJsonString() })
        {
            Assert.DoesNotContain(endpoints.TargetLogin.Password, text, StringComparison.Ordinal);
            Assert.DoesNotContain(PlatformStub.AccessToken, text, StringComparison.Ordinal);
        }
    }
}
