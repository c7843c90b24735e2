using System.Text.Json.Nodes;

using Wave.Tests.Builds.EndToEnd;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Records;

namespace Wave.Tests.Contract;

/// <summary>
/// The two clients' whole flows against a real Wave host that builds (buildah), a real registry and a real pull:
/// each request is sent as the client writes it, each poll is the client's own decision, and the image is pulled
/// only once the client would let a task (or the user) use it. That pull must succeed.
/// </summary>
public sealed class ClientFlowTests(RegistryFixture registryFixture, BuildHostFixture buildFixture)
{
    private static readonly TimeSpan MaxAwait = TimeSpan.FromMinutes(8);

    private async Task<(WaveTestHost Wave, TestRegistries Registries)> SetUpAsync()
    {
        var registries = await registryFixture.GetAsync();
        return (await buildFixture.GetAsync(registries), registries);
    }

    /// <summary>The tag's manifest is in the registry now (HEAD, as a pull would start).</summary>
    private static async Task<bool> InRegistryAsync(string image)
    {
        var name = image.StartsWith("oras://", StringComparison.Ordinal) ? image["oras://".Length..] : image;
        var slash = name.IndexOf('/');
        var colon = name.LastIndexOf(':');
        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Head, $"http://{name[..slash]}/v2/{name[(slash + 1)..colon]}/manifests/{name[(colon + 1)..]}");
        request.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json");
        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        return response.IsSuccessStatusCode;
    }

    private static Task<string> PullAsync(string image, string directory) =>
        RecordsTestSupport.SkopeoAsync("copy", "--src-tls-verify=false", $"docker://{image}", $"dir:{directory}");

    [Fact]
    public async Task NfWave_freeze_that_joins_a_running_build_waits_for_it_and_then_pulls_the_pushed_tag()
    {
        var (wave, registries) = await SetUpAsync();
        // Long enough that the second request certainly arrives while the first one's build runs.
        var dockerfile = $"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN sleep 4 && echo joined > /joined.txt\n";
        var request = new NfWaveRequest
        {
            ContainerFile = BuildApi.Base64(dockerfile),
            BuildRepository = $"{registries.Plain.Host}/contract/freeze",
            Freeze = true,
            ContainerPlatform = "linux/amd64",
        };
        var nf = new NfWaveClient(wave.Client);

        var first = await nf.SendRequestAsync(request);
        var second = await nf.SendRequestAsync(request);

        foreach (var handle in new[] { first, second })
        {
            var answer = handle.Response;
            Assert.Equal(first.Response.BuildId, answer.BuildId);
            Assert.Equal(first.Response.TargetImage, answer.TargetImage);
            Assert.NotNull(answer.RequestId);
            Assert.Null(answer.ContainerToken);
            Assert.True(answer.Freeze);
            // The bug this guards: a request joining the running build was answered cached: true, so Nextflow pulled a
            // tag that did not exist yet.
            Assert.False(answer.Cached);
            Assert.Null(answer.Succeeded);
        }
        Assert.NotEqual(first.Response.RequestId, second.Response.RequestId);
        Assert.False(await nf.IsContainerReadyAsync(second), "the client must wait while the build runs");
        Assert.False(await InRegistryAsync(second.Response.TargetImage));

        await nf.AwaitReadyAsync(second, MaxAwait);

        Assert.All(nf.StatusCalls, call => Assert.Equal("container", call));
        Assert.True(await InRegistryAsync(second.Response.TargetImage), "ready, so the tag must be in the registry");
        var copy = Directory.CreateTempSubdirectory("wave-contract-pull-");
        await PullAsync(second.Response.TargetImage, copy.FullName);
        Assert.True(File.Exists(Path.Combine(copy.FullName, "manifest.json")));
        Assert.True(await nf.IsContainerReadyAsync(first));

        // Once it is pushed, the same request is cached and ready at once: no status call is needed.
        var third = await nf.SendRequestAsync(request);
        Assert.True(third.Response.Cached);
        Assert.True(third.Response.Succeeded);
        var calls = nf.StatusCalls.Count;
        Assert.True(await nf.IsContainerReadyAsync(third));
        Assert.Equal(calls, nf.StatusCalls.Count);

        // The record of a freeze request is reachable by its request id, and its status says DONE.
        var record = await wave.GetAsync($"/v1alpha2/container/{second.Response.RequestId}");
        Assert.True(record.Status == 200, record.Text);
        Assert.True(record.Body!["freeze"]!.GetValue<bool>());
        Assert.False(record.Body["buildNew"]!.GetValue<bool>());
        Assert.Equal(second.Response.BuildId, record.Body["buildId"]!.GetValue<string>());
        Assert.Equal(second.Response.TargetImage, record.Body["waveImage"]!.GetValue<string>());
    }

    [Fact]
    public async Task NfWave_ephemeral_build_is_polled_to_done_and_a_docker_style_pull_through_the_token_succeeds()
    {
        var (wave, registries) = await SetUpAsync();
        var nf = new NfWaveClient(wave.Client);
        var handle = await nf.SendRequestAsync(new NfWaveRequest
        {
            ContainerFile = BuildApi.Base64($"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN echo ephemeral > /e.txt\n"),
        });

        var answer = handle.Response;
        Assert.Equal(answer.ContainerToken, answer.RequestId);
        Assert.False(answer.Cached);
        Assert.Null(answer.Succeeded);
        Assert.StartsWith($"{wave.Host}/wt/{answer.ContainerToken}/", answer.TargetImage, StringComparison.Ordinal);

        var seen = new List<string>();
        while (!await nf.IsContainerReadyAsync(handle))
        {
            var status = await wave.GetAsync($"/v1alpha2/container/{answer.RequestId}/status");
            seen.Add(status.Body!["status"]!.GetValue<string>());
            Assert.Null(status.Body["succeeded"]);
            Assert.Null(status.Body["duration"]);
            await Task.Delay(1000, TestContext.Current.CancellationToken);
        }
        Assert.All(seen, s => Assert.Contains(s, new[] { "PENDING", "BUILDING" }));

        var done = ClientJson.ParseContainerStatus((await wave.GetAsync($"/v1alpha2/container/{answer.RequestId}/status")).Text);
        Assert.Equal("DONE", done.Status);
        Assert.True(done.Succeeded);
        Assert.Equal(answer.BuildId, done.BuildId);
        Assert.True(done.Duration > TimeSpan.Zero);
        var copy = Directory.CreateTempSubdirectory("wave-contract-pull-");
        await PullAsync(answer.TargetImage, copy.FullName);
        Assert.True(File.Exists(Path.Combine(copy.FullName, "manifest.json")));
    }

    [Fact]
    public async Task NfWave_without_a_request_id_falls_back_to_the_build_status()
    {
        // An answer of an older server has no requestId: the client then follows the build status until COMPLETED.
        var (wave, registries) = await SetUpAsync();
        var nf = new NfWaveClient(wave.Client);
        var handle = await nf.SendRequestAsync(new NfWaveRequest
        {
            ContainerFile = BuildApi.Base64($"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN echo fallback > /f.txt\n"),
            BuildRepository = $"{registries.Plain.Host}/contract/fallback",
            Freeze = true,
        });
        var legacy = handle with { Response = handle.Response with { RequestId = null } };

        await nf.AwaitReadyAsync(legacy, MaxAwait);

        Assert.Contains("build", nf.StatusCalls);
        Assert.True(await InRegistryAsync(legacy.Response.TargetImage));
    }

    [Fact]
    public async Task NfWave_conda_packages_build_is_awaited_and_pulled()
    {
        var (wave, registries) = await SetUpAsync();
        var mambaImage = await FreezeAndCondaBuildTests.BuildStandInMambaImageAsync(wave, registries);
        var nf = new NfWaveClient(wave.Client);
        var handle = await nf.SendRequestAsync(new NfWaveRequest
        {
            Packages = new NfWavePackages
            {
                Entries = ["bioconda::samtools=1.17", $"conda-forge::zlib=1.3.{Random.Shared.Next(1000)}"],
                Channels = ["conda-forge", "bioconda"],
                // The v2 template's final stage: the busybox base (ubuntu:24.04, nf-wave's default, is not reachable here).
                CondaOpts = new NfWaveCondaOpts(mambaImage, BaseImage: registries.Images.DockerV2),
            },
            BuildRepository = $"{registries.Plain.Host}/contract/conda",
            Freeze = true,
        });

        Assert.Null(handle.Response.Succeeded);
        Assert.Contains(":samtools-1.17_zlib-1.3", handle.Response.TargetImage, StringComparison.Ordinal);
        await nf.AwaitReadyAsync(handle, MaxAwait);
        Assert.True(await InRegistryAsync(handle.Response.TargetImage));
        var copy = Directory.CreateTempSubdirectory("wave-contract-pull-");
        await PullAsync(handle.Response.TargetImage, copy.FullName);
    }

    [Fact]
    public async Task NfWave_singularity_freeze_is_awaited_until_the_ORAS_artifact_is_pushed()
    {
        var (wave, registries) = await SetUpAsync();
        var definition = $"Bootstrap: docker\nFrom: {registries.Images.DockerV2}\n\n%post\n    echo sif-{Guid.NewGuid():N} > /made.txt\n";
        var nf = new NfWaveClient(wave.Client);
        var handle = await nf.SendRequestAsync(new NfWaveRequest
        {
            ContainerFile = BuildApi.Base64(definition),
            Format = "sif",
            Freeze = true,
            BuildRepository = $"{registries.Plain.Host}/contract/sif",
        });

        Assert.StartsWith("oras://", handle.Response.TargetImage, StringComparison.Ordinal);
        Assert.Null(handle.Response.Succeeded);
        Assert.False(await InRegistryAsync(handle.Response.TargetImage));
        await nf.AwaitReadyAsync(handle, MaxAwait);
        Assert.True(await InRegistryAsync(handle.Response.TargetImage), "the SIF's ORAS manifest must be pushed once the client says ready");
    }

    [Fact]
    public async Task WaveCli_await_polls_a_build_until_done_and_reports_a_failure_with_its_reason()
    {
        var (wave, registries) = await SetUpAsync();
        var cli = new WaveCliClient(wave.Client);

        var (answer, status) = await cli.RunAsync(WaveCliClient.Request(new
        {
            containerFile = BuildApi.Base64($"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN echo cli > /cli.txt\n"),
            buildRepository = $"{registries.Plain.Host}/contract/cli",
            freeze = true,
        }), MaxAwait);

        // Without requestId and succeeded: null, --await would have returned at once.
        Assert.NotNull(answer.RequestId);
        Assert.Null(answer.Succeeded);
        Assert.True(cli.StatusCalls > 0);
        Assert.NotNull(status);
        Assert.True(status.Succeeded);
        Assert.True(await InRegistryAsync(answer.TargetImage));

        var failing = await Assert.ThrowsAsync<ClientProtocolException>(() => cli.RunAsync(WaveCliClient.Request(new
        {
            containerFile = BuildApi.Base64($"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN exit 7\n"),
            buildRepository = $"{registries.Plain.Host}/contract/cli",
            freeze = true,
        }), MaxAwait));
        Assert.StartsWith("Container provisioning did not complete successfully\n- Reason: Container build did not complete successfully", failing.Message, StringComparison.Ordinal);
        Assert.Contains("exit code 7", failing.Message, StringComparison.Ordinal);
        Assert.Contains("/view/builds/bd-", failing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WaveCli_await_on_an_augmentation_returns_at_once_because_it_succeeded()
    {
        var (wave, registries) = await SetUpAsync();
        var cli = new WaveCliClient(wave.Client);
        var (answer, status) = await cli.RunAsync(WaveCliClient.Request(new { containerImage = registries.Images.DockerV2 }), MaxAwait);
        Assert.True(answer.Succeeded);
        Assert.Null(status);
        Assert.Equal(0, cli.StatusCalls);
        Assert.Null(answer.Cached);
    }

    [Fact]
    public async Task NfWave_augmentation_with_fusion_style_layers_is_ready_at_once_and_pulls()
    {
        var (wave, registries) = await SetUpAsync();
        var fusion = TestLayer.Create(new Dictionary<string, string> { ["usr/bin/fusion-stand-in"] = "#!/bin/sh\necho fusion\n" });
        var bundle = TestLayer.Create(new Dictionary<string, string> { ["usr/local/bin/script.sh"] = "echo bundle " + Guid.NewGuid() });
        await using var layerServer = await ScriptedHttpServer.StartAsync(async context =>
        {
            context.Response.ContentType = "application/octet-stream";
            await context.Response.Body.WriteAsync(fusion.Gzip, context.RequestAborted);
        });
        var nf = new NfWaveClient(wave.Client);
        var handle = await nf.SendRequestAsync(new NfWaveRequest
        {
            ContainerImage = registries.Images.DockerV2,
            // Fusion's container config: an http layer and its environment, after the pipeline's bundle (skipHashing as nf-wave marks it).
            ContainerConfig = new NfWaveContainerConfig
            {
                Entrypoint = ["/usr/bin/fusion-stand-in"],
                Env = ["FUSION_WORK=/fusion"],
                Layers =
                [
                    new NfWaveLayer("data:" + Convert.ToBase64String(bundle.Gzip), bundle.GzipDigest, bundle.Gzip.Length, bundle.TarDigest, SkipHashing: true),
                    new NfWaveLayer($"http://{layerServer.Host}/fusion-amd64.tar.gz", fusion.GzipDigest, fusion.Gzip.Length, fusion.TarDigest),
                ],
            },
            ContainerPlatform = "linux/amd64",
        });

        Assert.True(handle.Response.Succeeded);
        Assert.Null(handle.Response.BuildId);
        Assert.True(await nf.IsContainerReadyAsync(handle));
        Assert.Empty(nf.StatusCalls);
        var copy = Directory.CreateTempSubdirectory("wave-contract-pull-");
        await PullAsync(handle.Response.TargetImage, copy.FullName);
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(copy.FullName, "manifest.json"), TestContext.Current.CancellationToken))!;
        var layers = manifest["layers"]!.AsArray().Select(l => l!["digest"]!.GetValue<string>()).ToList();
        Assert.Equal([bundle.GzipDigest, fusion.GzipDigest], layers[^2..]);
    }
}
