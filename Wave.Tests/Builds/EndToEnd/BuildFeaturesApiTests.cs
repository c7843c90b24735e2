using System.Text;
using System.Text.Json;

using Microsoft.AspNetCore.Http;

using Wave.Core.Manifests;
using Wave.Tests.Builds.Local;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Builds.EndToEnd;

/// <summary>
/// buildContext, containerIncludes, buildCompression and a remote Conda lock file through the REST API of the embedded
/// host, in the JSON wave-cli sends (nulls dropped): a real build, pushed to the test registry and read back by skopeo.
/// </summary>
public sealed class BuildFeaturesApiTests(RegistryFixture registryFixture, BuildHostFixture buildFixture)
{
    private static string Skopeo => Requirements.Binary("skopeo", "skopeo");

    private static async Task<ImageManifest> ManifestAsync(string image) =>
        ManifestJson.Deserialize<ImageManifest>(Encoding.UTF8.GetBytes(await TestProcess.RunAsync(Skopeo, ["inspect", "--raw", "--tls-verify=false", "docker://" + image])));

    [Fact]
    public async Task A_build_with_a_context_an_include_and_zstd_has_all_three_in_the_pushed_image()
    {
        var registries = await registryFixture.GetAsync();
        var wave = await buildFixture.GetAsync(registries);
        var marker = Guid.NewGuid().ToString("N");

        // The image to include, built through Wave too (FROM scratch: one layer of its own).
        var tool = BuildFeaturesTests.ContextArchive(("hello.txt", "included " + marker + "\n", "644"));
        var included = await wave.Client.PostContainerAsync(new
        {
            containerFile = BuildApi.Base64("FROM scratch\nCOPY hello.txt /opt/tool/hello.txt\n"),
            buildContext = new { location = tool.Location, gzipDigest = tool.GzipDigest, gzipSize = tool.GzipSize, tarDigest = tool.TarDigest },
            buildRepository = $"{registries.Plain.Host}/features/tool",
            freeze = true,
        });
        Assert.True(included.Status == 200, included.Text);
        Assert.True((await wave.Client.WaitCompletedAsync(included.Body!["buildId"]!.GetValue<string>()))["succeeded"]!.GetValue<bool>());
        var includedImage = included.Body["containerImage"]!.GetValue<string>();

        var context = BuildFeaturesTests.ContextArchive(("app/greeting.txt", "context " + marker + "\n", "644"), ("app/setup.sh", "#!/bin/sh\necho set-up > /setup.txt\n", "755"));
        var answer = await wave.Client.PostContainerAsync(new
        {
            containerFile = BuildApi.Base64($"FROM {registries.Images.DockerV2}\nCOPY app/ /app/\nRUN /app/setup.sh\n"),
            buildContext = new { location = context.Location, gzipDigest = context.GzipDigest, gzipSize = context.GzipSize, tarDigest = context.TarDigest },
            containerIncludes = new[] { includedImage },
            buildCompression = new { mode = "zstd" },
            buildRepository = $"{registries.Plain.Host}/features/all",
            freeze = true,
        });

        Assert.True(answer.Status == 200, answer.Text);
        var buildId = answer.Body!["buildId"]!.GetValue<string>();
        var status = await wave.Client.WaitCompletedAsync(buildId);
        Assert.True(status["succeeded"]!.GetValue<bool>(), await wave.Client.LogsAsync(buildId));
        var image = answer.Body["containerImage"]!.GetValue<string>();
        Assert.Equal(image, answer.TargetImage);

        var manifest = await ManifestAsync(image);
        Assert.Equal(MediaTypes.OciManifest, manifest.MediaType);
        // base image, COPY app/, RUN, then the included image's file system. The layers this build wrote are zstd; the
        // include's content is exactly the included image's layer (the same tar), which buildah reuses from the registry
        // as it is there (gzip): so the included layer is present in the result by its very digest.
        Assert.Equal(4, manifest.Layers.Count);
        Assert.All(manifest.Layers.Skip(1).Take(2), layer => Assert.Equal("application/vnd.oci.image.layer.v1.tar+zstd", layer.MediaType));
        Assert.Equal(Assert.Single((await ManifestAsync(includedImage)).Layers).Digest, manifest.Layers[3].Digest);
        var files = await ReadAllAsync(image);
        Assert.Equal("context " + marker + "\n", files["app/greeting.txt"]);
        Assert.Equal("set-up\n", files["setup.txt"]);
        Assert.Equal("included " + marker + "\n", files["opt/tool/hello.txt"]);
        Assert.Equal("wave base image\n", files["etc/base-image.txt"]);
        var record = await wave.Client.RecordAsync(buildId);
        Assert.Contains($"COPY --from={includedImage} / /", record["dockerfile"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_remote_lock_file_is_fetched_by_the_builder_and_installed_by_the_template()
    {
        var registries = await registryFixture.GetAsync();
        var wave = await buildFixture.GetAsync(registries);
        var mambaImage = await FreezeAndCondaBuildTests.BuildStandInMambaImageAsync(wave, registries);
        var baseImage = await FreezeAndCondaBuildTests.BuildBaseWithUsersAsync(wave, registries);
        var lockFile = $"@EXPLICIT\nhttps://conda.anaconda.org/conda-forge/noarch/tzdata-2024a-h0c530f3_0.conda\n# {Guid.NewGuid():N}\n";
        await using var server = await ScriptedHttpServer.StartAsync(context => context.Response.WriteAsync(lockFile, context.RequestAborted));

        var answer = await wave.Client.PostContainerAsync(new
        {
            packages = new
            {
                type = "CONDA",
                entries = new[] { $"http://{server.Host}/v1alpha1/builds/bd-0123456789abcdef_1/condalock?n={Guid.NewGuid():N}" },
                channels = new[] { "conda-forge" },
                condaOpts = new { mambaImage = "mambaorg/micromamba:1.5.10-noble", baseImage },
            },
            buildRepository = $"{registries.Plain.Host}/features/lock",
        });
        // The v1 default image nf-wave sends is replaced by the v2 one, which is not reachable here: name the stand-in.
        Assert.True(answer.Status == 200, answer.Text);
        var replaced = await wave.Client.RecordAsync(answer.Body!["buildId"]!.GetValue<string>());
        Assert.StartsWith("FROM mambaorg/micromamba:2-amazon2023 AS build\n", replaced["dockerfile"]!.GetValue<string>(), StringComparison.Ordinal);

        answer = await wave.Client.PostContainerAsync(new
        {
            packages = new
            {
                type = "CONDA",
                entries = new[] { $"http://{server.Host}/v1alpha1/builds/bd-0123456789abcdef_1/condalock" },
                channels = new[] { "conda-forge" },
                condaOpts = new { mambaImage, baseImage },
            },
            buildRepository = $"{registries.Plain.Host}/features/lock",
        });
        Assert.True(answer.Status == 200, answer.Text);
        var buildId = answer.Body!["buildId"]!.GetValue<string>();
        var status = await wave.Client.WaitCompletedAsync(buildId);
        var log = await wave.Client.LogsAsync(buildId);
        Assert.True(status["succeeded"]!.GetValue<bool>(), log);
        Assert.Contains("stand-in micromamba: install -y -n base -c conda-forge -f /tmp/conda.lock", log, StringComparison.Ordinal);
        Assert.Contains(server.Received, r => r.PathAndQuery == "/v1alpha1/builds/bd-0123456789abcdef_1/condalock");
        var files = await ReadAllAsync(answer.Body["containerImage"]!.GetValue<string>());
        Assert.Contains("-f /tmp/conda.lock", files["opt/conda/installed.txt"], StringComparison.Ordinal);
    }

    /// <summary>Every regular file of the image (amd64), the topmost layer's copy winning, read from layers skopeo decompressed.</summary>
    private static async Task<Dictionary<string, string>> ReadAllAsync(string image)
    {
        var folder = Path.Combine(Path.GetTempPath(), "wave-image-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            await TestProcess.RunAsync(Skopeo, ["copy", "--src-tls-verify=false", "--dest-decompress", "docker://" + image, "dir:" + folder]);
            using var written = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "manifest.json")));
            var files = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var layer in written.RootElement.GetProperty("layers").EnumerateArray())
            {
                await using var blob = File.OpenRead(Path.Combine(folder, layer.GetProperty("digest").GetString()!.Split(':')[1]));
                using var reader = new System.Formats.Tar.TarReader(blob);
                while (await reader.GetNextEntryAsync() is { } entry)
                {
                    if (entry.DataStream is { } data && entry.EntryType is System.Formats.Tar.TarEntryType.RegularFile or System.Formats.Tar.TarEntryType.V7RegularFile)
                    {
                        files[entry.Name.TrimStart('.', '/')] = await new StreamReader(data).ReadToEndAsync();
                    }
                }
            }
            return files;
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }
}
