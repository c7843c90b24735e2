using System.Net.Http.Json;
using System.Text.Json.Nodes;

using Microsoft.AspNetCore.Http;

using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Builds.EndToEnd;

/// <summary>
/// Freeze (an image plus layers and config built into a durable image) and the Conda template, run for real. No
/// Conda channel is reachable here, so the Conda build starts from a stand-in micromamba image that the test first
/// builds through Wave itself; the template's text is covered by the golden tests.
/// </summary>
public sealed class FreezeAndCondaBuildTests(RegistryFixture registryFixture, BuildHostFixture buildFixture, DockerEngineFixture dockerFixture)
{
    [Fact]
    public async Task Freeze_builds_the_image_with_its_inline_and_remote_layers_and_config_into_a_durable_name()
    {
        var registries = await registryFixture.GetAsync();
        var wave = await buildFixture.GetAsync(registries);
        var nonce = Guid.NewGuid().ToString("N");
        var inline = TestLayer.Create(new Dictionary<string, string> { ["frozen/inline.txt"] = "inline " + nonce });
        var remote = TestLayer.Create(new Dictionary<string, string> { ["frozen/remote.txt"] = "remote " + nonce });
        await using var layerServer = await ScriptedHttpServer.StartAsync(async context =>
        {
            context.Response.ContentType = "application/octet-stream";
            await context.Response.Body.WriteAsync(remote.Gzip, context.RequestAborted);
        });
        var repository = $"{registries.Plain.Host}/frozen/app";

        var answer = await wave.Client.PostContainerAsync(new
        {
            containerImage = registries.Images.DockerV2,
            freeze = true,
            buildRepository = repository,
            containerConfig = new
            {
                env = new[] { "FROZEN=yes" },
                workingDir = "/frozen",
                cmd = new[] { "sh", "-c", "cat inline.txt remote.txt; echo; echo $FROZEN" },
                layers = new[] { inline.AsDataLayer(), remote.AsRemoteLayer($"http://{layerServer.Host}/layers/remote.tar.gz") },
            },
        });

        Assert.True(answer.Status == 200, answer.Text);
        Assert.True(answer.Body!["freeze"]!.GetValue<bool>());
        Assert.Null(answer.Body["containerToken"]);
        Assert.Null(answer.Body["expiration"]);
        Assert.StartsWith(repository + ":", answer.TargetImage, StringComparison.Ordinal);
        var buildId = answer.Body["buildId"]!.GetValue<string>();
        var status = await wave.Client.WaitCompletedAsync(buildId);
        Assert.True(status["succeeded"]!.GetValue<bool>(), await wave.Client.LogsAsync(buildId));
        Assert.Contains(layerServer.Received, r => r.PathAndQuery == "/layers/remote.tar.gz");

        // The durable name is an ordinary image in the user's repository: docker pulls it straight from there.
        var docker = await dockerFixture.GetAsync();
        var output = await docker.RunAsync("run", "--rm", "--network", "none", answer.TargetImage);
        Assert.Equal($"inline {nonce}remote {nonce}\nyes", output.Trim());
    }

    [Fact]
    public async Task A_freeze_whose_remote_layer_does_not_match_its_digest_fails_with_the_reason()
    {
        var registries = await registryFixture.GetAsync();
        var wave = await buildFixture.GetAsync(registries);
        var promised = TestLayer.Create(new Dictionary<string, string> { ["a.txt"] = Guid.NewGuid().ToString() });
        await using var layerServer = await ScriptedHttpServer.StartAsync(context => context.Response.Body.WriteAsync(new byte[promised.Gzip.Length], context.RequestAborted).AsTask());

        var answer = await wave.Client.PostContainerAsync(new
        {
            containerImage = registries.Images.DockerV2,
            freeze = true,
            buildRepository = $"{registries.Plain.Host}/frozen/bad",
            containerConfig = new { layers = new[] { promised.AsRemoteLayer($"http://{layerServer.Host}/bad.tar.gz") } },
        });

        Assert.True(answer.Status == 200, answer.Text);
        var buildId = answer.Body!["buildId"]!.GetValue<string>();
        var status = await wave.Client.WaitCompletedAsync(buildId);
        Assert.False(status["succeeded"]!.GetValue<bool>());
        var reason = (await wave.Client.RecordAsync(buildId))["failureReason"]!.GetValue<string>();
        Assert.Contains("not the " + promised.GzipDigest, reason, StringComparison.Ordinal);
        Assert.Contains(promised.GzipDigest, await wave.Client.LogsAsync(buildId), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_conda_build_runs_the_multi_stage_v2_template_and_serves_the_lock_it_printed()
    {
        var registries = await registryFixture.GetAsync();
        var wave = await buildFixture.GetAsync(registries);
        var mambaImage = await BuildStandInMambaImageAsync(wave, registries);
        var baseImage = await BuildBaseWithUsersAsync(wave, registries);

        // conda/micromamba:v2 (the default): installed in the stand-in micromamba image, the prefix copied into the base image.
        var answer = await wave.Client.PostContainerAsync(new
        {
            packages = new
            {
                type = "CONDA",
                entries = new[] { "bioconda::samtools=1.17", "conda-forge::zlib=1.3" },
                channels = new[] { "conda-forge", "bioconda" },
                condaOpts = new { mambaImage, baseImage, commands = new[] { "RUN echo extra-command > /extra.txt" } },
            },
        });

        Assert.True(answer.Status == 200, answer.Text);
        var buildId = answer.Body!["buildId"]!.GetValue<string>();
        // tagPrefix naming: the packages before the content id.
        Assert.Contains("/wave/builds:samtools-1.17_zlib-1.3--", answer.Body["containerImage"]!.GetValue<string>(), StringComparison.Ordinal);
        var status = await wave.Client.WaitCompletedAsync(buildId);
        var logs = await wave.Client.LogsAsync(buildId);
        Assert.True(status["succeeded"]!.GetValue<bool>(), logs);
        Assert.Contains("stand-in micromamba: install -y -n base -f /tmp/conda.yml", logs, StringComparison.Ordinal);

        var condaLock = await wave.Client.GetStringAsync($"/v1alpha1/builds/{buildId}/condalock", TestContext.Current.CancellationToken);
        Assert.Equal("@EXPLICIT\nhttps://conda.anaconda.org/stand-in/linux-64/samtools-1.17-0.conda\n", condaLock);
        var record = await wave.Client.GetFromJsonAsync<JsonNode>($"/v1alpha1/builds/{buildId}", TestContext.Current.CancellationToken);
        Assert.Contains("bioconda::samtools=1.17", record!["condaFile"]!.GetValue<string>(), StringComparison.Ordinal);

        // The final stage is the base image with the installed prefix: what micromamba installed, not micromamba itself.
        var docker = await dockerFixture.GetAsync();
        var output = await docker.RunAsync("run", "--rm", "--network", "none", "--entrypoint", "sh", answer.TargetImage, "-c",
            "cat /opt/conda/installed.txt /extra.txt /etc/base-image.txt; test -e /bin/micromamba || echo no-micromamba; test -e /tmp/conda.yml || echo no-conda-yml");
        Assert.Contains("install -y -n base -f /tmp/conda.yml", output, StringComparison.Ordinal);
        Assert.Contains("install -y -n base conda-forge::procps-ng", output, StringComparison.Ordinal);
        Assert.Contains("extra-command", output, StringComparison.Ordinal);
        Assert.Contains("wave base image", output, StringComparison.Ordinal);
        Assert.Contains("no-micromamba", output, StringComparison.Ordinal);
        Assert.Contains("no-conda-yml", output, StringComparison.Ordinal);

        // conda/micromamba:v1: one stage, the environment installed into the micromamba image itself.
        var v1 = await wave.Client.PostContainerAsync(new
        {
            packages = new { type = "CONDA", entries = new[] { "bioconda::samtools=1.17" }, condaOpts = new { mambaImage } },
            buildTemplate = "conda/micromamba:v1",
        });
        Assert.True(v1.Status == 200, v1.Text);
        var v1Status = await wave.Client.WaitCompletedAsync(v1.Body!["buildId"]!.GetValue<string>());
        Assert.True(v1Status["succeeded"]!.GetValue<bool>(), await wave.Client.LogsAsync(v1.Body!["buildId"]!.GetValue<string>()));
        var v1Output = await docker.RunAsync("run", "--rm", "--network", "none", "--entrypoint", "sh", v1.TargetImage, "-c", "cat /tmp/conda.yml; test -e /bin/micromamba && echo has-micromamba");
        Assert.Contains("samtools=1.17", v1Output, StringComparison.Ordinal);
        Assert.Contains("has-micromamba", v1Output, StringComparison.Ordinal);
    }

    /// <summary>busybox with an /etc/passwd, as a real base image has (the v2 template's final stage runs as USER root).</summary>
    internal static async Task<string> BuildBaseWithUsersAsync(WaveTestHost wave, TestRegistries registries)
    {
        var answer = await wave.Client.PostContainerAsync(new
        {
            containerFile = BuildApi.Base64($"FROM {registries.Images.DockerV2}\nRUN echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd && echo 'root:x:0:' > /etc/group\n"),
            buildRepository = $"{registries.Plain.Host}/stand-in/base",
            freeze = true,
        });
        Assert.True(answer.Status == 200, answer.Text);
        var status = await wave.Client.WaitCompletedAsync(answer.Body!["buildId"]!.GetValue<string>());
        Assert.True(status["succeeded"]!.GetValue<bool>());
        return answer.Body["containerImage"]!.GetValue<string>();
    }

    /// <summary>
    /// busybox with a <c>micromamba</c> script that logs what it is asked and, for <c>env export --explicit</c>,
    /// prints a fixed lock; built through Wave as a Dockerfile build.
    /// </summary>
    internal static async Task<string> BuildStandInMambaImageAsync(WaveTestHost wave, TestRegistries registries)
    {
        const string script =
            "#!/bin/sh\\n" +
            "case \"$1 $2\" in\\n" +
            "  \"env export\") printf \"@EXPLICIT\\\\nhttps://conda.anaconda.org/stand-in/linux-64/samtools-1.17-0.conda\\\\n\" ;;\\n" +
            "  *) echo \"stand-in micromamba: $*\"; echo \"$*\" >> /opt/conda/installed.txt ;;\\n" +
            "esac\\n";
        var dockerfile = $"FROM {registries.Images.DockerV2}\n" +
            "ENV MAMBA_USER=0 MAMBA_ROOT_PREFIX=/opt/conda\n" +
            $"RUN mkdir -p /opt/conda/bin /tmp && printf '{script}' > /bin/micromamba && chmod 755 /bin/micromamba" +
            // The template switches to USER root, as the real micromamba image (which has a passwd file) allows.
            " && echo 'root:x:0:0:root:/root:/bin/sh' >> /etc/passwd && echo 'root:x:0:' >> /etc/group\n";
        var answer = await wave.Client.PostContainerAsync(new
        {
            containerFile = BuildApi.Base64(dockerfile),
            buildRepository = $"{registries.Plain.Host}/stand-in/micromamba",
            freeze = true,
        });
        Assert.True(answer.Status == 200, answer.Text);
        var buildId = answer.Body!["buildId"]!.GetValue<string>();
        var status = await wave.Client.WaitCompletedAsync(buildId);
        Assert.True(status["succeeded"]!.GetValue<bool>(), await wave.Client.LogsAsync(buildId));
        return answer.TargetImage;
    }
}
