using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

using Wave.Core.Augmentation;
using Wave.Core.Manifests;

namespace Wave.Tests.Core;

public sealed class ManifestJsonTests
{
    private static JsonNode Node(ReadOnlySpan<byte> json) => JsonNode.Parse(json)!;

    private static void AssertSameJson(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual) =>
        Assert.True(JsonNode.DeepEquals(Node(expected), Node(actual)),
            $"expected {Encoding.UTF8.GetString(expected)}\nactual   {Encoding.UTF8.GetString(actual)}");

    [Fact]
    public void DockerConfigRoundTripKeepsEveryField()
    {
        var config = ManifestJson.Deserialize<ImageConfig>(Samples.DockerConfig);
        Assert.Equal("amd64", config.Architecture);
        Assert.Equal(["/docker-entrypoint.sh"], config.Config!.Entrypoint!);
        Assert.Equal("/srv", config.Config.WorkingDir);
        Assert.Equal(2, config.RootFs!.DiffIds.Count);
        Assert.Equal(true, config.History![1].EmptyLayer);
        Assert.True(config.Config.ExtensionData!.ContainsKey("Healthcheck"));
        Assert.True(config.ExtensionData!.ContainsKey("os.version"));

        var written = ManifestJson.Serialize(config);
        // Unknown fields keep even their null values ("OnBuild": null); only the order of fields may change.
        AssertSameJson(Samples.DockerConfig, written);
    }

    [Fact]
    public void WritingIsCompactAndDoesNotEscapeMediaTypesOrUnicode()
    {
        var written = Encoding.UTF8.GetString(ManifestJson.Serialize(ManifestJson.Deserialize<ImageConfig>(Samples.DockerConfig)));
        Assert.DoesNotContain("\n", written, StringComparison.Ordinal);
        Assert.DoesNotContain(": ", written, StringComparison.Ordinal);
        Assert.Contains("Ünïcødé <a+b@example.com>", written, StringComparison.Ordinal);

        var manifest = Encoding.UTF8.GetString(ManifestJson.Serialize(ManifestJson.Deserialize<ImageManifest>(Samples.OciManifest)));
        Assert.Contains("\"application/vnd.oci.image.layer.v1.tar+gzip\"", manifest, StringComparison.Ordinal);
    }

    [Fact]
    public void ManifestRoundTripKeepsUrlsAnnotationsAndAbsentMediaType()
    {
        var docker = ManifestJson.Deserialize<ImageManifest>(Samples.DockerManifest);
        Assert.Equal(MediaTypes.DockerManifest, docker.MediaType);
        Assert.Equal(2, docker.Layers.Count);
        Assert.True(docker.Layers[1].ExtensionData!.ContainsKey("urls"));
        AssertSameJson(Samples.DockerManifest, ManifestJson.Serialize(docker));

        var oci = ManifestJson.Deserialize<ImageManifest>(Samples.OciManifest);
        Assert.Null(oci.MediaType);
        var written = ManifestJson.Serialize(oci);
        AssertSameJson(Samples.OciManifest, written);
        Assert.False(Node(written).AsObject().ContainsKey("mediaType"));
    }

    [Fact]
    public void IndexRoundTripKeepsPlatformExtrasAndAnnotations()
    {
        var bytes = Samples.OciIndex(Samples.FakeDigest('1'), Samples.FakeDigest('2'));
        var index = ManifestJson.Deserialize<ImageIndex>(bytes);
        Assert.Equal(3, index.Manifests.Count);
        Assert.Equal("v8", index.Manifests[1].Platform!.Variant);
        Assert.True(index.Manifests[0].Platform!.ExtensionData!.ContainsKey("os.version"));
        AssertSameJson(bytes, ManifestJson.Serialize(index));
    }

    [Fact]
    public void SerializingIsDeterministic()
    {
        var config = ManifestJson.Deserialize<ImageConfig>(Samples.DockerConfig);
        var again = ManifestJson.Deserialize<ImageConfig>(Samples.DockerConfig);
        Assert.Equal(ManifestJson.Serialize(config), ManifestJson.Serialize(again));
        // Written bytes read and written again are a fixed point.
        var written = ManifestJson.Serialize(config);
        Assert.Equal(written, ManifestJson.Serialize(ManifestJson.Deserialize<ImageConfig>(written)));
    }

    [Fact]
    public void ContainerConfigUsesTheRequestFieldNames()
    {
        var config = ManifestJson.Deserialize<ContainerConfig>("""
            {"entrypoint":["/bin/sh"],"cmd":["-c","echo"],"env":["A=1"],"workingDir":"/w",
             "layers":[{"location":"https://x/l.tar.gz","gzipDigest":"sha256:aa","gzipSize":12,"tarDigest":"sha256:bb"}]}
            """u8);
        Assert.Equal(["/bin/sh"], config.Entrypoint!);
        Assert.Equal("/w", config.WorkingDir);
        Assert.Equal(12, config.Layers![0].GzipSize);
        Assert.False(config.IsEmpty);
    }

    public static TheoryData<string, string> InvalidManifests => new()
    {
        { "", "invalid image manifest" },
        { "not json", "invalid image manifest" },
        { "null", "null" },
        { "{\"schemaVersion\":2,\"mediaType\":\"\\ud800\",\"config\":{\"digest\":\"sha256:" + new string('a', 64) + "\",\"size\":1},\"layers\":[]}", "invalid image manifest" },
        { "[]", "invalid image manifest" },
        { "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" + new string('a', 64) + "\",\"size\":1},\"layers\":[]} trailing", "invalid image manifest" },
        { "{\"schemaVersion\":2,\"layers\":[]}", "config" },
        { "{\"config\":{\"digest\":\"sha256:" + new string('a', 64) + "\",\"size\":1},\"layers\":[]}", "schemaVersion" },
        { "{\"schemaVersion\":1,\"config\":{\"digest\":\"sha256:" + new string('a', 64) + "\",\"size\":1},\"layers\":[]}", "schemaVersion must be 2" },
        { "{\"schemaVersion\":\"2\",\"config\":{\"digest\":\"sha256:" + new string('a', 64) + "\",\"size\":1}}", "invalid image manifest" },
        { "{\"schemaVersion\":2,\"config\":{\"size\":1},\"layers\":[]}", "digest" },
        { "{\"schemaVersion\":2,\"config\":{\"digest\":null,\"size\":1},\"layers\":[]}", "digest" },
        { "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:xyz\",\"size\":1},\"layers\":[]}", "config.digest 'sha256:xyz' is not a well-formed digest" },
        { "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" + new string('a', 64) + "\",\"size\":-1},\"layers\":[]}", "config.size is negative" },
        { "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" + new string('a', 64) + "\",\"size\":1},\"layers\":null}", "layers" },
        { "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" + new string('a', 64) + "\",\"size\":1},\"layers\":[null]}", "layers[0] is null" },
        { "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" + new string('a', 64) + "\",\"size\":1},\"layers\":[{\"digest\":\"../../x\"}]}", "layers[0].digest" },
        { "{\"schemaVersion\":2,\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" + new string('a', 64) + "\",\"size\":1},\"layers\":[]}", "invalid image manifest" },
    };

    [Fact]
    public void DuplicateKeysAreRejectedEvenInsideUnknownFields()
    {
        var json = "{\"schemaVersion\":2,\"config\":{\"digest\":\"" + Samples.FakeDigest('a') + "\",\"size\":2},\"layers\":[],"
            + "\"annotations\":{\"k\":\"1\",\"k\":\"2\"}}";
        var exception = Assert.Throws<InvalidManifestException>(() => ManifestJson.Deserialize<ImageManifest>(Encoding.UTF8.GetBytes(json)));
        Assert.Contains("k", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(InvalidManifests))]
    public void InvalidManifestsAreRejectedWithAReason(string json, string reasonFragment)
    {
        var exception = Assert.Throws<InvalidManifestException>(() => ManifestJson.Deserialize<ImageManifest>(Encoding.UTF8.GetBytes(json)));
        Assert.Contains(reasonFragment, exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"schemaVersion\":2}", "manifests")]
    [InlineData("{\"schemaVersion\":3,\"manifests\":[]}", "schemaVersion must be 2")]
    [InlineData("{\"manifests\":[]}", "schemaVersion")]
    [InlineData("{\"schemaVersion\":2,\"manifests\":[{\"size\":3}]}", "digest")]
    public void InvalidIndexesAreRejectedWithAReason(string json, string reasonFragment)
    {
        var exception = Assert.Throws<InvalidManifestException>(() => ManifestJson.Deserialize<ImageIndex>(Encoding.UTF8.GetBytes(json)));
        Assert.Contains("invalid image index", exception.Message, StringComparison.Ordinal);
        Assert.Contains(reasonFragment, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AbsentOptionalListsReadAsEmpty()
    {
        var manifest = ManifestJson.Deserialize<ImageManifest>(Encoding.UTF8.GetBytes(
            "{\"schemaVersion\":2,\"config\":{\"digest\":\"" + Samples.FakeDigest('a') + "\",\"size\":2}}"));
        Assert.Empty(manifest.Layers);
        Assert.Equal("""{"schemaVersion":2,"config":{"digest":"sha256:""" + new string('a', 64) + "\",\"size\":2},\"layers\":[]}",
            Encoding.UTF8.GetString(ManifestJson.Serialize(manifest)));

        var config = ManifestJson.Deserialize<ImageConfig>("""{"rootfs":{}}"""u8);
        Assert.Equal("layers", config.RootFs!.Type);
        Assert.Empty(config.RootFs.DiffIds);
    }

    [Fact]
    public void AnIndexIsNotAnImageManifest()
    {
        var index = Samples.OciIndex(Samples.FakeDigest('1'), Samples.FakeDigest('2'));
        Assert.Throws<InvalidManifestException>(() => ManifestJson.Deserialize<ImageManifest>(index));
    }

    [Fact]
    public void AConfigWithAMalformedDiffIdIsRejected()
    {
        var exception = Assert.Throws<InvalidManifestException>(() =>
            ManifestJson.Deserialize<ImageConfig>("""{"rootfs":{"type":"layers","diff_ids":["sha256:nope"]}}"""u8));
        Assert.Contains("diff_ids", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(MediaTypes.DockerManifest, MediaTypes.DockerManifest)]
    [InlineData(MediaTypes.OciIndex + "; charset=utf-8", MediaTypes.OciIndex)]
    [InlineData(MediaTypes.DockerManifestList, MediaTypes.DockerManifestList)]
    public void ContentTypeWinsWhenItNamesAManifestType(string contentType, string expected) =>
        Assert.Equal(expected, ManifestJson.DetectMediaType("{}"u8, contentType));

    [Theory]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}""", "application/json", MediaTypes.DockerManifestList)]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{},"layers":[]}""", null, MediaTypes.DockerManifest)]
    [InlineData("""{"schemaVersion":2,"manifests":[]}""", "application/octet-stream", MediaTypes.OciIndex)]
    [InlineData("""{"schemaVersion":2,"config":{},"layers":[]}""", null, MediaTypes.OciManifest)]
    [InlineData("""{"schemaVersion":2,"mediaType":"text/plain","config":{},"layers":[]}""", "", MediaTypes.OciManifest)]
    public void FallsBackToTheDocumentThenToItsShape(string json, string? contentType, string expected) =>
        Assert.Equal(expected, ManifestJson.DetectMediaType(Encoding.UTF8.GetBytes(json), contentType));

    [Theory]
    [InlineData("""{"schemaVersion":1,"name":"x","fsLayers":[]}""")]
    [InlineData("""{"config":{}}""")]
    [InlineData("[1,2]")]
    [InlineData("{")]
    [InlineData("")]
    public void UndetectableDocumentsAreInvalid(string json) =>
        Assert.Throws<InvalidManifestException>(() => ManifestJson.DetectMediaType(Encoding.UTF8.GetBytes(json), "application/json"));

    [Fact]
    public void ExtensionDataSurvivesAsItsJsonValue()
    {
        var index = ManifestJson.Deserialize<ImageIndex>(Samples.OciIndex(Samples.FakeDigest('1'), Samples.FakeDigest('2')));
        var annotations = index.ExtensionData!["annotations"];
        Assert.Equal(JsonValueKind.Object, annotations.ValueKind);
        Assert.Equal("1.0", annotations.GetProperty("org.opencontainers.image.ref.name").GetString());
    }
}
