using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json;

using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

using Wave.Builder.Worker;
using Wave.Core.Augmentation;
using Wave.Core.Builds;
using Wave.Core.Digests;
using Wave.Core.Manifests;
using Wave.Core.Registry;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Builds.Local;

/// <summary>
/// The build features of issue 15 below the REST API: a plan made by <see cref="BuildPlanner"/> from request fields, run
/// by the real buildah backend (wrapped like the builder wraps it) against the test registry, and the pushed result
/// read back with independent clients (skopeo, docker).
/// </summary>
public sealed class BuildFeaturesTests(RegistryFixture registryFixture, DockerEngineFixture dockerFixture) : IAsyncDisposable
{
    private readonly LocalBuild _build = LocalBuild.Create();

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static string Skopeo => Requirements.Binary("skopeo", "skopeo");

    private async Task<(BuildPlan Plan, BuildOutcome Outcome, string Log)> BuildAsync(BuildRequestFields fields, string repository)
    {
        var plan = BuildPlanner.Plan(fields with { BuildRepository = repository }, new BuildOptions());
        var (registry, _) = Registry.TestClients.Create();
        var backend = new MultiPlatformBuildBackend(_build.Backend, registry, new ConfiguredRegistryCredentials(Options.Create(new RegistryOptions())),
            TimeProvider.System, NullLogger<MultiPlatformBuildBackend>.Instance);
        var log = new CollectingLogSink();
        var outcome = await backend.RunAsync(plan.ToJob(1, DateTimeOffset.UtcNow), new Dictionary<string, RegistryCredentials>(), log, TestContext.Current.CancellationToken);
        Assert.True(outcome.Succeeded, $"{outcome.FailureReason}\n{log.Text}");
        return (plan, outcome, log.Text);
    }

    [Fact]
    public async Task A_multi_platform_build_pushes_an_index_of_amd64_and_arm64_and_each_client_gets_its_platform()
    {
        Requirements.Binary("qemu-aarch64-static", "qemu-user-static");
        var registries = await registryFixture.GetAsync();
        var fields = new BuildRequestFields
        {
            ContainerFile = Base64($"FROM {registries.Images.MultiArch}\nRUN uname -m > /arch.txt\nCMD [\"cat\", \"/arch.txt\"]\n"),
            ContainerPlatform = "linux/arm64,linux/amd64",
            NameStrategy = "none",
        };

        var (plan, outcome, log) = await BuildAsync(fields, $"{registries.Plain.Host}/builds/multi-{LocalBuild.UniqueTag()}");

        Assert.True(plan.IsMultiPlatform);
        Assert.Equal("linux/amd64,linux/arm64", plan.ToJob(1, DateTimeOffset.UnixEpoch).Platform);
        Assert.Contains("[linux/arm64] ", log, StringComparison.Ordinal);
        Assert.Contains("[linux/amd64] ", log, StringComparison.Ordinal);

        // The tag is an index of the two platform manifests, and its digest is the build's.
        var raw = await TestProcess.RunAsync(Skopeo, ["inspect", "--raw", "--tls-verify=false", "docker://" + plan.TargetImage]);
        Assert.Equal(await PushedImage.DigestAsync(plan.TargetImage), outcome.ImageDigest);
        var index = ManifestJson.Deserialize<ImageIndex>(Encoding.UTF8.GetBytes(raw));
        Assert.True(MediaTypes.IsIndex(index.MediaType), raw);
        Assert.Equal(["amd64", "arm64"], index.Manifests.Select(m => m.Platform!.Architecture!));
        Assert.All(index.Manifests, m => Assert.Equal("linux", m.Platform!.Os));

        // skopeo picks each platform; each ran its RUN step on its own architecture (arm64 under qemu).
        Assert.Equal("x86_64", (await PushedImage.ReadFileAsync(plan.TargetImage, "amd64", "arch.txt"))?.Trim());
        Assert.Equal("aarch64", (await PushedImage.ReadFileAsync(plan.TargetImage, "arm64", "arch.txt"))?.Trim());
        Assert.Equal("arm64", (await PushedImage.ConfigAsync(plan.TargetImage, "arm64")).GetProperty("architecture").GetString());

        // docker on this amd64 machine pulls and runs the amd64 image; asked for arm64 it gets the arm64 one.
        var docker = await dockerFixture.GetAsync();
        Assert.Equal("x86_64", (await docker.RunAsync("run", "--rm", "--network", "none", plan.TargetImage)).Trim());
        await docker.RunAsync("pull", "--platform", "linux/arm64", plan.TargetImage);
        Assert.Equal("arm64", (await docker.RunAsync("image", "inspect", "--format", "{{.Architecture}}", plan.TargetImage)).Trim());
    }

    [Fact]
    public async Task A_build_context_is_unpacked_so_that_the_dockerfile_copies_its_files_with_their_modes()
    {
        var registries = await registryFixture.GetAsync();
        var context = ContextArchive(
            ("app/greeting.txt", "hello from the build context\n", "644"),
            ("app/run.sh", "#!/bin/sh\necho ran > /ran.txt\n", "755"));
        var fields = new BuildRequestFields
        {
            ContainerFile = Base64($"FROM {registries.Images.DockerV2}\nCOPY app/ /app/\nRUN /app/run.sh\n"),
            BuildContext = context,
            NameStrategy = "none",
        };

        var (plan, outcome, _) = await BuildAsync(fields, $"{registries.Plain.Host}/builds/context");

        Assert.Equal(await PushedImage.DigestAsync(plan.TargetImage), outcome.ImageDigest);
        Assert.Equal("hello from the build context\n", await PushedImage.ReadFileAsync(plan.TargetImage, "amd64", "app/greeting.txt"));
        Assert.Equal("ran\n", await PushedImage.ReadFileAsync(plan.TargetImage, "amd64", "ran.txt"));
        // Another archive is another image.
        var other = BuildPlanner.Plan(fields with { BuildRepository = $"{registries.Plain.Host}/builds/context", BuildContext = ContextArchive(("app/greeting.txt", "other\n", "644")) }, new BuildOptions());
        Assert.NotEqual(plan.ContainerId, other.ContainerId);
    }

    [Fact]
    public async Task Included_images_are_merged_into_the_result()
    {
        var registries = await registryFixture.GetAsync();
        var marker = Guid.NewGuid().ToString("N");
        var (included, _, _) = await BuildAsync(new BuildRequestFields
        {
            ContainerFile = Base64("FROM scratch\nCOPY included.txt /opt/included/hello.txt\n"),
            BuildContext = ContextArchive(("included.txt", marker + "\n", "644")),
            NameStrategy = "none",
        }, $"{registries.Plain.Host}/tools/included");

        var (plan, outcome, _) = await BuildAsync(new BuildRequestFields
        {
            ContainerFile = Base64($"FROM {registries.Images.DockerV2}\nRUN echo base > /base.txt\n"),
            ContainerIncludes = [included.TargetImage],
            NameStrategy = "none",
        }, $"{registries.Plain.Host}/builds/includes");

        Assert.Contains($"COPY --from={included.TargetImage} / /", plan.Dockerfile, StringComparison.Ordinal);
        var docker = await dockerFixture.GetAsync();
        var output = await docker.RunAsync("run", "--rm", "--network", "none", plan.TargetImage, "cat", "/base.txt", "/opt/included/hello.txt");
        Assert.Equal($"base\n{marker}\n", output);
        // The included image's layer content sits in a layer of its own on top of the recipe's.
        var manifest = await TestProcess.RunAsync(Skopeo, ["inspect", "--raw", "--tls-verify=false", "docker://" + plan.TargetImage]);
        var layers = ManifestJson.Deserialize<ImageManifest>(Encoding.UTF8.GetBytes(manifest)).Layers;
        var includedLayers = ManifestJson.Deserialize<ImageManifest>(Encoding.UTF8.GetBytes(
            await TestProcess.RunAsync(Skopeo, ["inspect", "--raw", "--tls-verify=false", "docker://" + included.TargetImage]))).Layers;
        Assert.Single(includedLayers);
        Assert.Equal(marker + "\n", await ReadFromLayerAsync(plan.TargetImage, layers[^1].Digest, "opt/included/hello.txt"));
        Assert.NotNull(outcome.ImageDigest);
    }

    [Fact]
    public async Task Zstd_compression_writes_the_built_layers_with_zstd()
    {
        var registries = await registryFixture.GetAsync();
        var marker = Guid.NewGuid().ToString("N");
        var (plan, _, _) = await BuildAsync(new BuildRequestFields
        {
            ContainerFile = Base64($"FROM {registries.Images.DockerV2}\nRUN echo {marker} > /marker.txt\nCMD [\"cat\", \"/marker.txt\"]\n"),
            BuildCompression = new BuildCompressionFields { Mode = "zstd" },
            NameStrategy = "none",
        }, $"{registries.Plain.Host}/builds/zstd");

        var manifest = ManifestJson.Deserialize<ImageManifest>(Encoding.UTF8.GetBytes(
            await TestProcess.RunAsync(Skopeo, ["inspect", "--raw", "--tls-verify=false", "docker://" + plan.TargetImage])));
        Assert.Equal(MediaTypes.OciManifest, manifest.MediaType);
        Assert.Equal("application/vnd.oci.image.layer.v1.tar+zstd", manifest.Layers[^1].MediaType);
        // skopeo (containers/image) decompresses the zstd layer and finds the file in it. (docker is no judge here:
        // Debian 12's dockerd 20.10 cannot unpack zstd layers at all, "unexpected EOF"; Docker Engine 23 and later can.)
        Assert.Equal(marker + "\n", await ReadFromLayerAsync(plan.TargetImage, manifest.Layers[^1].Digest, "marker.txt", decompress: true));

        // The same recipe without compression is another image (another id), gzip as always.
        var gzip = BuildPlanner.Plan(new BuildRequestFields { ContainerFile = Base64($"FROM {registries.Images.DockerV2}\nRUN echo {marker} > /marker.txt\nCMD [\"cat\", \"/marker.txt\"]\n"), BuildRepository = $"{registries.Plain.Host}/builds/zstd", NameStrategy = "none" }, new BuildOptions());
        Assert.NotEqual(plan.TargetImage, gzip.TargetImage);
    }

    /// <summary>A <c>data:</c> buildContext of the given files (path, content, octal mode).</summary>
    internal static ContainerLayer ContextArchive(params (string Path, string Content, string Mode)[] files)
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (path, content, mode) in files)
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, path)
                {
                    Mode = (UnixFileMode)Convert.ToInt32(mode, 8),
                    DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)),
                });
            }
        }
        var tarBytes = tar.ToArray();
        using var gzipped = new MemoryStream();
        using (var gzip = new GZipStream(gzipped, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(tarBytes);
        }
        var gzipBytes = gzipped.ToArray();
        return new ContainerLayer
        {
            Location = "data:" + Convert.ToBase64String(gzipBytes),
            GzipDigest = Digest.Sha256(gzipBytes),
            GzipSize = gzipBytes.Length,
            TarDigest = Digest.Sha256(tarBytes),
        };
    }

    /// <param name="decompress">Let skopeo decompress the layers (any compression), instead of gunzipping them here.</param>
    private static async Task<string?> ReadFromLayerAsync(string image, string layerDigest, string path, bool decompress = false)
    {
        var folder = Path.Combine(Path.GetTempPath(), "wave-layer-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            await TestProcess.RunAsync(Skopeo, ["copy", "--src-tls-verify=false", .. decompress ? new[] { "--dest-decompress" } : [], "docker://" + image, "dir:" + folder]);
            var name = layerDigest.Split(':')[1];
            if (decompress)
            {
                // The decompressed layer is stored under the digest of its tar (its diff_id): the manifest written says which.
                using var written = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "manifest.json")));
                name = written.RootElement.GetProperty("layers").EnumerateArray().Last().GetProperty("digest").GetString()!.Split(':')[1];
            }
            await using var blob = File.OpenRead(Path.Combine(folder, name));
            Stream layer = decompress ? blob : new GZipStream(blob, CompressionMode.Decompress);
            await using var _ = layer;
            using var reader = new TarReader(layer);
            while (await reader.GetNextEntryAsync() is { } entry)
            {
                if (entry.Name.TrimStart('.', '/') == path && entry.DataStream is { } data)
                {
                    return await new StreamReader(data).ReadToEndAsync();
                }
            }
            return null;
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    public ValueTask DisposeAsync() => _build.DisposeAsync();
}
