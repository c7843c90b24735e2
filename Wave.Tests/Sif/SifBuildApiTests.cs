using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

using Wave.Core.Manifests;
using Wave.Core.Registry;
using Wave.Tests.Builds.EndToEnd;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Registry;

namespace Wave.Tests.Sif;

/// <summary>
/// <c>format: sif</c> through the API of the embedded build host: the image is built with buildah, converted, pushed to
/// the plain test registry as an ORAS artifact, read back through the registry API, parsed here at the SIF v1 offsets
/// (not with the service's parser), unpacked with <c>unsquashfs</c>, and downloaded through
/// <c>/v1alpha1/builds/{id}/sif</c>.
/// </summary>
public sealed class SifBuildApiTests(RegistryFixture registryFixture, BuildHostFixture buildFixture) : IDisposable
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private readonly string _work = Directory.CreateTempSubdirectory("wave-sif-api-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private async Task<(WaveTestHost Wave, TestRegistries Registries)> SetUpAsync()
    {
        var registries = await registryFixture.GetAsync();
        return (await buildFixture.GetAsync(registries), registries);
    }

    private static string Repository(TestRegistries registries, string name) => $"{registries.Plain.Host}/sif-e2e/{name}-{Guid.NewGuid():N}"[..^20];

    [Fact]
    public async Task A_dockerfile_becomes_a_SIF_pushed_as_an_ORAS_artifact_downloadable_from_the_builds_API()
    {
        var (wave, registries) = await SetUpAsync();
        var repository = Repository(registries, "dockerfile");
        var dockerfile = $"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}" +
            "RUN mkdir -p /opt/app && echo made-by-dockerfile > /opt/app/made.txt\nENV SIF_TEST=yes\nCMD [\"cat\", \"/opt/app/made.txt\"]\n";
        var request = new { containerFile = BuildApi.Base64(dockerfile), format = "sif", freeze = true, buildRepository = repository };

        var answer = await wave.Client.PostContainerAsync(request);

        Assert.True(answer.Status == 200, answer.Text);
        var buildId = answer.Body!["buildId"]!.GetValue<string>();
        Assert.StartsWith($"oras://{repository}:", answer.TargetImage, StringComparison.Ordinal);
        Assert.EndsWith(buildId[3..19], answer.TargetImage, StringComparison.Ordinal);
        Assert.Equal(answer.TargetImage, answer.Body["containerImage"]!.GetValue<string>());
        Assert.Null(answer.Body["containerToken"]);
        Assert.Null(answer.Body["expiration"]);
        Assert.True(answer.Body["freeze"]!.GetValue<bool>());
        Assert.False(answer.Body["cached"]!.GetValue<bool>());

        // While the build runs there is no file yet: 409, with the state in the message.
        using (var early = await wave.Client.GetAsync($"/v1alpha1/builds/{buildId}/sif", Cancel))
        {
            var text = await early.Content.ReadAsStringAsync(Cancel);
            Assert.True(early.StatusCode == HttpStatusCode.Conflict, $"{(int)early.StatusCode} {text}");
            Assert.Contains("COMPLETED", JsonNode.Parse(text)!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        var status = await wave.Client.WaitCompletedAsync(buildId);
        var logs = await wave.Client.LogsAsync(buildId);
        Assert.True(status["succeeded"]!.GetValue<bool>(), logs);
        var tag = answer.TargetImage[(answer.TargetImage.LastIndexOf(':') + 1)..];
        var name = repository[(registries.Plain.Host.Length + 1)..];
        Assert.Contains($"[wave] SIF build, step 1 of 2: building the container image {repository}:{tag}-docker", logs, StringComparison.Ordinal);
        Assert.Contains("RUN mkdir -p /opt/app", logs, StringComparison.Ordinal);
        Assert.Contains("[wave] SIF build, step 2 of 2: converting", logs, StringComparison.Ordinal);
        Assert.Contains($"[wave] pushed {answer.TargetImage}@sha256:", logs, StringComparison.Ordinal);

        var record = await wave.Client.RecordAsync(buildId);
        Assert.Equal("SINGULARITY", record["format"]!.GetValue<string>());
        Assert.Equal($"{repository}:{tag}", record["targetImage"]!.GetValue<string>());

        // The artifact, read back through the registry API.
        var registry = SifTestImages.Client();
        var (sifBytes, layerDigest) = await ReadArtifactAsync(registry, registries.Plain.Host, name, tag, record["digest"]!.GetValue<string>());
        // The intermediate container image stays under <tag>-docker.
        var intermediate = await registry.HeadManifestAsync(registries.Plain.Host, name, tag + "-docker", Cancel);
        Assert.False(MediaTypes.IsIndex(intermediate.MediaType));

        var sif = ParsedSif.Read(sifBytes);
        Assert.Equal("02", sif.Architecture);
        Assert.Equal([0x4003, 0x4004], sif.Descriptors.Select(d => d.Type)); // no definition file: labels, partition
        var root = await UnsquashAsync(sif.Data(sifBytes, 0x4004));
        Assert.Equal("made-by-dockerfile\n", await File.ReadAllTextAsync(Path.Combine(root, "opt/app/made.txt"), Cancel));
        Assert.Contains("export SIF_TEST=yes", await File.ReadAllTextAsync(Path.Combine(root, ".singularity.d/env/10-docker2singularity.sh"), Cancel), StringComparison.Ordinal);
        Assert.Contains("exec cat /opt/app/made.txt", await File.ReadAllTextAsync(Path.Combine(root, ".singularity.d/runscript"), Cancel), StringComparison.Ordinal);

        // The download is the registry's blob, with its digest in the headers.
        await AssertDownloadAsync(wave, buildId, sifBytes, layerDigest, name[(name.LastIndexOf('/') + 1)..] + ".sif");

        // The same request again: nothing is built, the same build and name are answered.
        var again = await wave.Client.PostContainerAsync(request);
        Assert.True(again.Status == 200, again.Text);
        Assert.True(again.Body!["cached"]!.GetValue<bool>());
        Assert.Equal(buildId, again.Body["buildId"]!.GetValue<string>());
        Assert.Equal(answer.TargetImage, again.TargetImage);
    }

    [Fact]
    public async Task A_singularity_definition_file_becomes_a_SIF_holding_the_definition_and_what_its_sections_made()
    {
        var (wave, registries) = await SetUpAsync();
        var repository = Repository(registries, "definition");
        var definition = $"Bootstrap: docker\nFrom: {registries.Images.DockerV2}\n\n" +
            $"%post\n    mkdir -p /opt/def\n    echo made-by-definition > /opt/def/made.txt\n    echo {Guid.NewGuid():N} > /opt/def/nonce\n\n" +
            "%environment\n    export GREETING=hello-from-sif\n\n" +
            "%runscript\n    cat /opt/def/made.txt\n\n" +
            "%labels\n    Author wave-tests\n";

        var answer = await wave.Client.PostContainerAsync(new { containerFile = BuildApi.Base64(definition), format = "singularity", freeze = true, buildRepository = repository });

        Assert.True(answer.Status == 200, answer.Text);
        Assert.StartsWith($"oras://{repository}:", answer.TargetImage, StringComparison.Ordinal);
        var buildId = answer.Body!["buildId"]!.GetValue<string>();
        var status = await wave.Client.WaitCompletedAsync(buildId);
        var logs = await wave.Client.LogsAsync(buildId);
        Assert.True(status["succeeded"]!.GetValue<bool>(), logs);
        var record = await wave.Client.RecordAsync(buildId);
        Assert.StartsWith($"FROM {registries.Images.DockerV2}\n", record["dockerFile"]!.GetValue<string>(), StringComparison.Ordinal);

        var tag = answer.TargetImage[(answer.TargetImage.LastIndexOf(':') + 1)..];
        var name = repository[(registries.Plain.Host.Length + 1)..];
        var (sifBytes, layerDigest) = await ReadArtifactAsync(SifTestImages.Client(), registries.Plain.Host, name, tag, record["digest"]!.GetValue<string>());

        var sif = ParsedSif.Read(sifBytes);
        Assert.Equal([0x4001, 0x4003, 0x4004], sif.Descriptors.Select(d => d.Type));
        Assert.Equal(definition, Encoding.UTF8.GetString(sif.Data(sifBytes, 0x4001)));
        var root = await UnsquashAsync(sif.Data(sifBytes, 0x4004));
        Assert.Equal("made-by-definition\n", await File.ReadAllTextAsync(Path.Combine(root, "opt/def/made.txt"), Cancel));
        Assert.Equal("#!/bin/sh\n\n    cat /opt/def/made.txt\n", await File.ReadAllTextAsync(Path.Combine(root, ".singularity.d/runscript"), Cancel));
        Assert.Contains("export GREETING=hello-from-sif", await File.ReadAllTextAsync(Path.Combine(root, ".singularity.d/env/90-environment.sh"), Cancel), StringComparison.Ordinal);
        Assert.Contains("\"Author\": \"wave-tests\"", await File.ReadAllTextAsync(Path.Combine(root, ".singularity.d/labels.json"), Cancel), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(root, ".singularity.d/wave-post.sh")));

        await AssertDownloadAsync(wave, buildId, sifBytes, layerDigest, name[(name.LastIndexOf('/') + 1)..] + ".sif");
    }

    [Fact]
    public async Task Malformed_SIF_requests_are_refused_with_the_field_named()
    {
        var (wave, registries) = await SetUpAsync();
        var repository = Repository(registries, "bad");
        var dockerfile = BuildApi.Base64($"FROM {registries.Images.DockerV2}\n");

        async Task AssertRefusedAsync(object request, string field, string containing)
        {
            var answer = await wave.Client.PostContainerAsync(request);
            Assert.True(answer.Status == 400, answer.Text);
            Assert.Equal(field, answer.Field);
            Assert.StartsWith(field + " ", answer.Message, StringComparison.Ordinal);
            Assert.Contains(containing, answer.Message, StringComparison.Ordinal);
        }

        await AssertRefusedAsync(new { containerFile = dockerfile, format = "sif", buildRepository = repository }, "freeze", "must be true for format sif");
        await AssertRefusedAsync(new { containerImage = registries.Images.DockerV2, format = "sif" }, "freeze", "must be true for format sif");
        await AssertRefusedAsync(new { containerFile = dockerfile, format = "sif", freeze = true }, "buildRepository", "is required for format sif");
        // Several platforms for a SIF: refused with the Wave server's message, see Contract.RefusalTests.
        await AssertRefusedAsync(new { containerFile = BuildApi.Base64("Bootstrap: docker\nFrom: busybox\n%test\n    true\n"), format = "sif", freeze = true, buildRepository = repository },
            "containerFile", "section %test (line 3) is not supported");
        await AssertRefusedAsync(new { containerFile = BuildApi.Base64("Bootstrap: docker\nFrom: busybox\n"), freeze = true, buildRepository = repository },
            "containerFile", "send it with format sif");
        await AssertRefusedAsync(new { containerFile = dockerfile, format = "oci", freeze = true, buildRepository = repository }, "format", "expected docker or sif");
    }

    [Fact]
    public async Task The_SIF_download_is_404_for_unknown_docker_and_failed_builds()
    {
        var (wave, registries) = await SetUpAsync();

        var unknown = await GetJsonAsync(wave, "/v1alpha1/builds/bd-0123456789abcdef_1/sif");
        Assert.Equal(404, unknown.Status);
        Assert.Contains("is unknown", unknown.Message, StringComparison.Ordinal);

        var failing = await wave.Client.PostContainerAsync(new
        {
            containerFile = BuildApi.Base64($"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN exit 3\n"),
            format = "sif",
            freeze = true,
            buildRepository = Repository(registries, "failing"),
        });
        Assert.True(failing.Status == 200, failing.Text);
        var failedId = failing.Body!["buildId"]!.GetValue<string>();
        var status = await wave.Client.WaitCompletedAsync(failedId);
        Assert.False(status["succeeded"]!.GetValue<bool>());
        var logs = await wave.Client.LogsAsync(failedId);
        Assert.DoesNotContain("step 2 of 2", logs, StringComparison.Ordinal);
        var failed = await GetJsonAsync(wave, $"/v1alpha1/builds/{failedId}/sif");
        Assert.Equal(404, failed.Status);
        Assert.Contains($"build {failedId} failed (exit code 3)", failed.Message, StringComparison.Ordinal);

        var docker = await wave.Client.PostContainerAsync(new
        {
            containerFile = BuildApi.Base64($"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}"),
            freeze = true,
            buildRepository = Repository(registries, "docker"),
        });
        Assert.True(docker.Status == 200, docker.Text);
        Assert.DoesNotContain("oras://", docker.TargetImage, StringComparison.Ordinal);
        var dockerId = docker.Body!["buildId"]!.GetValue<string>();
        var notSif = await GetJsonAsync(wave, $"/v1alpha1/builds/{dockerId}/sif");
        Assert.Equal(404, notSif.Status);
        Assert.Contains("is not a SIF build (format docker)", notSif.Message, StringComparison.Ordinal);
        await wave.Client.WaitCompletedAsync(dockerId);
    }

    private static async Task<ApiAnswer> GetJsonAsync(WaveTestHost wave, string path)
    {
        using var response = await wave.Client.GetAsync(path, Cancel);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return await WaveApi.ReadAsync(response);
    }

    /// <summary>Checks the ORAS manifest under the tag (pinned by the recorded digest) and returns the SIF blob and its digest.</summary>
    private static async Task<(byte[] Sif, string Digest)> ReadArtifactAsync(RegistryClient registry, string host, string name, string tag, string recordedDigest)
    {
        var manifest = await registry.GetManifestAsync(host, name, tag, Cancel);
        Assert.Equal(recordedDigest, manifest.Digest);
        Assert.Equal(MediaTypes.OciManifest, manifest.MediaType);
        Assert.Equal("application/vnd.oci.image.manifest.v1+json", TestClients.Field(manifest.Content, "mediaType"));
        Assert.Equal("application/vnd.sylabs.sif.config.v1+json", TestClients.Field(manifest.Content, "config", "mediaType"));
        var configDigest = TestClients.Field(manifest.Content, "config", "digest");
        Assert.Equal("{}", Encoding.UTF8.GetString(await registry.GetBlobBytesAsync(host, name, configDigest, 1024, Cancel)));
        Assert.Equal("application/vnd.sylabs.sif.layer.v1.sif", TestClients.Field(manifest.Content, "layers", "0", "mediaType"));
        Assert.Equal(name[(name.LastIndexOf('/') + 1)..] + ".sif", TestClients.Field(manifest.Content, "layers", "0", "annotations", "org.opencontainers.image.title"));
        var digest = TestClients.Field(manifest.Content, "layers", "0", "digest");
        var size = long.Parse(TestClients.Field(manifest.Content, "layers", "0", "size"), System.Globalization.CultureInfo.InvariantCulture);
        var bytes = await registry.GetBlobBytesAsync(host, name, digest, size + 1, Cancel);
        Assert.Equal(size, bytes.LongLength);
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes)), digest);
        return (bytes, digest);
    }

    private static async Task AssertDownloadAsync(WaveTestHost wave, string buildId, byte[] expected, string digest, string fileName)
    {
        using var response = await wave.Client.GetAsync($"/v1alpha1/builds/{buildId}/sif", HttpCompletionOption.ResponseHeadersRead, Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(expected.LongLength, response.Content.Headers.ContentLength);
        Assert.Equal(digest, response.Headers.GetValues("Docker-Content-Digest").Single());
        Assert.Equal("sha-256=" + Convert.ToBase64String(SHA256.HashData(expected)), response.Headers.GetValues("Digest").Single());
        Assert.Equal("attachment", response.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Equal(fileName, response.Content.Headers.ContentDisposition?.FileName?.Trim('"'));
        Assert.Equal(expected, await response.Content.ReadAsByteArrayAsync(Cancel));
        // Without the bd- prefix too, as the other builds endpoints take it.
        Assert.Equal(expected, await wave.Client.GetByteArrayAsync($"/v1alpha1/builds/{buildId[3..]}/sif", Cancel));
    }

    private async Task<string> UnsquashAsync(byte[] squashfs)
    {
        var unsquashfs = Requirements.Binary("unsquashfs", "squashfs-tools");
        var file = Path.Combine(_work, Guid.NewGuid().ToString("N") + ".squashfs");
        await File.WriteAllBytesAsync(file, squashfs, Cancel);
        var root = Path.Combine(_work, Guid.NewGuid().ToString("N"));
        await TestProcess.RunAsync(unsquashfs, ["-d", root, file]);
        return root;
    }

    /// <summary>The SIF v1 global header and used descriptors, read at the layout's offsets (independent of Wave.Core.Sif).</summary>
    private sealed record ParsedSif(string Architecture, IReadOnlyList<(int Type, long Offset, long Size)> Descriptors)
    {
        private const int DescriptorSize = 585;

        public static ParsedSif Read(byte[] sif)
        {
            Assert.True(sif.Length > 128, $"a SIF of {sif.Length} bytes is too short for its header");
            Assert.Equal("SIF_MAGIC\0", Encoding.ASCII.GetString(sif, 32, 10));
            Assert.Equal("01\0", Encoding.ASCII.GetString(sif, 42, 3));
            var architecture = Encoding.ASCII.GetString(sif, 45, 2);
            var total = BinaryPrimitives.ReadInt64LittleEndian(sif.AsSpan(88));
            var descriptorsAt = BinaryPrimitives.ReadInt64LittleEndian(sif.AsSpan(96));
            var descriptors = new List<(int, long, long)>();
            for (var i = 0; i < total; i++)
            {
                var d = (int)descriptorsAt + (i * DescriptorSize);
                if (sif[d + 4] != 1)
                {
                    continue;
                }
                descriptors.Add((BinaryPrimitives.ReadInt32LittleEndian(sif.AsSpan(d)),
                    BinaryPrimitives.ReadInt64LittleEndian(sif.AsSpan(d + 17)),
                    BinaryPrimitives.ReadInt64LittleEndian(sif.AsSpan(d + 25))));
            }
            return new ParsedSif(architecture, descriptors);
        }

        public byte[] Data(byte[] sif, int type)
        {
            var (_, offset, size) = Descriptors.Single(d => d.Type == type);
            return sif[(int)offset..(int)(offset + size)];
        }
    }
}
