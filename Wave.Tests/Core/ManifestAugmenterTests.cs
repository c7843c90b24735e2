using System.Text;
using System.Text.Json.Nodes;

using Wave.Core.Augmentation;
using Wave.Core.Digests;
using Wave.Core.Manifests;

namespace Wave.Tests.Core;

public sealed class ManifestAugmenterTests
{
    private static readonly DateTimeOffset Created = new(2025, 3, 4, 5, 6, 7, 123, TimeSpan.FromHours(2));

    private static readonly ContainerConfig Request = new()
    {
        Entrypoint = ["/opt/wave/entry.sh", "--flag"],
        Env = ["FOO=bar", "WAVE=1"],
        Layers = [Samples.Layer('d', 'e', 4096), Samples.Layer('f', '9', 512)],
    };

    [Fact]
    public void AugmentsADockerSchema2Manifest()
    {
        var result = ManifestAugmenter.Augment(Samples.DockerManifest, MediaTypes.DockerManifest, Samples.DockerConfig, Request, Created);

        Assert.Equal(Digest.Sha256(result.Config), result.ConfigDigest);
        Assert.Equal(Digest.Sha256(result.Manifest), result.ManifestDigest);
        Assert.Equal(MediaTypes.DockerManifest, result.ManifestMediaType);

        var config = ManifestJson.Deserialize<ImageConfig>(result.Config);
        Assert.Equal(
            ["sha256:" + new string('1', 64), "sha256:" + new string('2', 64), Samples.FakeDigest('d'), Samples.FakeDigest('f')],
            config.RootFs!.DiffIds);
        Assert.Equal(5, config.History!.Count);
        Assert.Equal("2025-03-04T03:06:07.1230000Z", config.History[3].Created);
        Assert.Equal($"wave: added layer {Samples.FakeDigest('e')}", config.History[3].CreatedBy);
        Assert.Equal("wave", config.History[4].Comment);
        Assert.Null(config.History[4].EmptyLayer);
        Assert.Equal(["/opt/wave/entry.sh", "--flag"], config.Config!.Entrypoint!);
        Assert.Equal(["/bin/bash"], config.Config.Cmd!);
        Assert.Equal("/srv", config.Config.WorkingDir);
        Assert.Equal(
            ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "FOO=bar", "WAVE=1"],
            config.Config.Env!);

        var manifest = ManifestJson.Deserialize<ImageManifest>(result.Manifest);
        Assert.Equal(MediaTypes.DockerManifest, manifest.MediaType);
        Assert.Equal(result.ConfigDigest, manifest.Config.Digest);
        Assert.Equal(result.Config.Length, manifest.Config.Size);
        Assert.Equal(MediaTypes.DockerConfig, manifest.Config.MediaType);
        Assert.Equal(4, manifest.Layers.Count);
        Assert.Equal(Samples.FakeDigest('e'), manifest.Layers[2].Digest);
        Assert.Equal(4096, manifest.Layers[2].Size);
        Assert.Equal(512, manifest.Layers[3].Size);
        Assert.All(manifest.Layers.Skip(2), l => Assert.Equal(MediaTypes.DockerLayerGzip, l.MediaType));
        Assert.True(manifest.Layers[1].ExtensionData!.ContainsKey("urls"));
    }

    [Fact]
    public void KeepsEveryConfigFieldItDoesNotChange()
    {
        var result = ManifestAugmenter.Augment(Samples.DockerManifest, MediaTypes.DockerManifest, Samples.DockerConfig, Request, Created);
        var before = JsonNode.Parse(Samples.DockerConfig)!.AsObject();
        var after = JsonNode.Parse(result.Config)!.AsObject();

        foreach (var (key, value) in before)
        {
            if (key is not "config" and not "rootfs" and not "history")
            {
                Assert.True(JsonNode.DeepEquals(value, after[key]), key);
            }
        }
        foreach (var (key, value) in before["config"]!.AsObject())
        {
            if (key is not "Entrypoint" and not "Env" and not "OnBuild")
            {
                Assert.True(JsonNode.DeepEquals(value, after["config"]![key]), key);
            }
        }
        Assert.True(JsonNode.DeepEquals(before["history"]![1], after["history"]![1]));
    }

    [Fact]
    public void AugmentsAnOciManifestWithoutAMediaTypeField()
    {
        var request = new ContainerConfig
        {
            Cmd = ["echo", "hi"],
            WorkingDir = "/work",
            Env = ["A=1"],
            Layers = [Samples.Layer('4', '5', 100)],
        };
        var result = ManifestAugmenter.Augment(Samples.OciManifest, MediaTypes.OciManifest, Samples.OciConfig, request, Created);

        var manifest = JsonNode.Parse(result.Manifest)!.AsObject();
        Assert.False(manifest.ContainsKey("mediaType"));
        Assert.Equal("docker.io/library/busybox:latest", (string?)manifest["annotations"]!["org.opencontainers.image.base.name"]);
        var parsed = ManifestJson.Deserialize<ImageManifest>(result.Manifest);
        Assert.Equal(MediaTypes.OciLayerGzip, parsed.Layers[^1].MediaType);
        Assert.Equal(MediaTypes.OciConfig, parsed.Config.MediaType);
        Assert.Equal(result.ConfigDigest, parsed.Config.Digest);
        Assert.Equal("rootfs.tar.gz", parsed.Layers[0].ExtensionData!["annotations"].GetProperty("org.opencontainers.image.title").GetString());

        var config = ManifestJson.Deserialize<ImageConfig>(result.Config);
        Assert.Equal(2, config.RootFs!.DiffIds.Count);
        Assert.Equal(2, config.History!.Count);
        Assert.Equal(["echo", "hi"], config.Config!.Cmd!);
        Assert.Null(config.Config.Entrypoint);
        Assert.Equal("/work", config.Config.WorkingDir);
        Assert.Equal(["PATH=/bin", "A=1"], config.Config.Env!);
        Assert.Equal("v8", config.ExtensionData!["variant"].GetString());
        Assert.Equal(Digest.Sha256(result.Manifest), result.ManifestDigest);
    }

    [Fact]
    public void CreatesEnvConfigAndHistoryWhenTheConfigHasNone()
    {
        var config = """{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"""u8.ToArray();
        var manifest = Encoding.UTF8.GetBytes($$"""
            {"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{"mediaType":"{{MediaTypes.OciConfig}}","digest":"{{Digest.Sha256(config)}}","size":{{config.Length}}},"layers":[]}
            """);
        var result = ManifestAugmenter.Augment(manifest, MediaTypes.OciManifest, config, Request, Created);
        var augmented = ManifestJson.Deserialize<ImageConfig>(result.Config);
        Assert.Equal(["FOO=bar", "WAVE=1"], augmented.Config!.Env!);
        Assert.Equal(2, augmented.History!.Count);
        Assert.Equal(2, augmented.RootFs!.DiffIds.Count);
    }

    [Fact]
    public void IsDeterministic()
    {
        var first = ManifestAugmenter.Augment(Samples.DockerManifest, MediaTypes.DockerManifest, Samples.DockerConfig, Request, Created);
        var copy = Request with { Env = [.. Request.Env!], Layers = [.. Request.Layers!] };
        var second = ManifestAugmenter.Augment(Samples.DockerManifest.ToArray(), MediaTypes.DockerManifest, Samples.DockerConfig.ToArray(), copy, Created);

        Assert.Equal(first.Manifest, second.Manifest);
        Assert.Equal(first.Config, second.Config);
        Assert.Equal(first.ManifestDigest, second.ManifestDigest);

        // The same instant in another offset is the same history timestamp.
        var third = ManifestAugmenter.Augment(Samples.DockerManifest, MediaTypes.DockerManifest, Samples.DockerConfig, Request, Created.ToUniversalTime());
        Assert.Equal(first.ManifestDigest, third.ManifestDigest);

        var later = ManifestAugmenter.Augment(Samples.DockerManifest, MediaTypes.DockerManifest, Samples.DockerConfig, Request, Created.AddSeconds(1));
        Assert.NotEqual(first.ConfigDigest, later.ConfigDigest);
    }

    [Fact]
    public void ChangesWithoutLayersKeepTheLayersAndHistory()
    {
        var result = ManifestAugmenter.Augment(Samples.OciManifest, MediaTypes.OciManifest, Samples.OciConfig, new ContainerConfig { Entrypoint = [] }, Created);
        var config = ManifestJson.Deserialize<ImageConfig>(result.Config);
        Assert.Empty(config.Config!.Entrypoint!);
        Assert.Single(config.History!);
        Assert.Single(ManifestJson.Deserialize<ImageManifest>(result.Manifest).Layers);
        Assert.NotEqual(Digest.Sha256(Samples.OciConfig), result.ConfigDigest);
    }

    [Fact]
    public void AnEmptyRequestReturnsTheImageUnchanged()
    {
        var result = ManifestAugmenter.Augment(Samples.DockerManifest, MediaTypes.DockerManifest, Samples.DockerConfig, new ContainerConfig(), Created);
        Assert.Equal(Samples.DockerManifest, result.Manifest);
        Assert.Equal(Samples.DockerConfig, result.Config);
        Assert.Equal(Digest.Sha256(Samples.DockerManifest), result.ManifestDigest);
        Assert.Equal(Digest.Sha256(Samples.DockerConfig), result.ConfigDigest);
    }

    [Fact]
    public void RejectsAnIndex()
    {
        var index = Samples.OciIndex(Samples.FakeDigest('1'), Samples.FakeDigest('2'));
        var exception = Assert.Throws<InvalidManifestException>(() =>
            ManifestAugmenter.Augment(index, MediaTypes.OciIndex, Samples.OciConfig, Request, Created));
        Assert.Contains("index", exception.Message, StringComparison.Ordinal);

        // An index mislabelled as an image manifest has no config.
        Assert.Throws<InvalidManifestException>(() =>
            ManifestAugmenter.Augment(index, MediaTypes.OciManifest, Samples.OciConfig, Request, Created));
    }

    [Fact]
    public void RejectsAConfigWhoseDiffIdsDoNotMatchTheLayers()
    {
        // The OCI config lists one diff_id; the Docker manifest has two layers.
        var config = Samples.OciConfig;
        var manifest = Encoding.UTF8.GetBytes(Samples.DockerManifestJson(config));
        var exception = Assert.Throws<InvalidManifestException>(() =>
            ManifestAugmenter.Augment(manifest, MediaTypes.DockerManifest, config, Request, Created));
        Assert.Contains("1 diff_ids but the manifest has 2 layers", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsAConfigThatIsNotTheManifestsConfig()
    {
        var exception = Assert.Throws<InvalidManifestException>(() =>
            ManifestAugmenter.Augment(Samples.OciManifest, MediaTypes.OciManifest, Samples.DockerConfig, Request, Created));
        Assert.Contains("do not match", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsUnknownMediaTypesAndBrokenDocuments()
    {
        Assert.Throws<InvalidManifestException>(() =>
            ManifestAugmenter.Augment(Samples.OciManifest, "application/json", Samples.OciConfig, Request, Created));
        Assert.Throws<InvalidManifestException>(() =>
            ManifestAugmenter.Augment("{"u8, MediaTypes.OciManifest, Samples.OciConfig, Request, Created));
        Assert.Throws<InvalidManifestException>(() =>
            ManifestAugmenter.Augment(Samples.OciManifest, MediaTypes.OciManifest, "[]"u8, Request, Created));
    }

    [Theory]
    [InlineData("sha256:nope", "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 1, "gzipDigest")]
    [InlineData("sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", null, 1, "tarDigest")]
    [InlineData("sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 0, "gzipSize")]
    public void RejectsMalformedRequestLayers(string? gzipDigest, string? tarDigest, long size, string field)
    {
        var request = new ContainerConfig { Layers = [new ContainerLayer { GzipDigest = gzipDigest, TarDigest = tarDigest, GzipSize = size }] };
        var exception = Assert.Throws<ArgumentException>(() =>
            ManifestAugmenter.Augment(Samples.OciManifest, MediaTypes.OciManifest, Samples.OciConfig, request, Created));
        Assert.Contains(field, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RewritesTheIndexEntriesThatWereAugmented()
    {
        var amd64 = ManifestAugmenter.Augment(Samples.DockerManifest, MediaTypes.DockerManifest, Samples.DockerConfig, Request, Created);
        var arm64Original = Samples.FakeDigest('2');
        var amd64Original = Digest.Sha256(Samples.DockerManifest);
        var index = Samples.OciIndex(amd64Original, arm64Original);

        var result = ManifestAugmenter.RewriteIndex(index, MediaTypes.OciIndex, new Dictionary<string, AugmentedImage> { [amd64Original] = amd64 });

        Assert.Equal(MediaTypes.OciIndex, result.IndexMediaType);
        Assert.Equal(Digest.Sha256(result.Index), result.IndexDigest);
        var rewritten = ManifestJson.Deserialize<ImageIndex>(result.Index);
        Assert.Equal(3, rewritten.Manifests.Count);
        Assert.Equal(amd64.ManifestDigest, rewritten.Manifests[0].Digest);
        Assert.Equal(amd64.Manifest.Length, rewritten.Manifests[0].Size);
        Assert.Equal(MediaTypes.DockerManifest, rewritten.Manifests[0].MediaType);
        Assert.Equal("amd64", rewritten.Manifests[0].Platform!.Architecture);
        Assert.True(rewritten.Manifests[0].Platform!.ExtensionData!.ContainsKey("os.version"));

        var before = ManifestJson.Deserialize<ImageIndex>(index);
        Assert.Equal(before.Manifests[1], rewritten.Manifests[1] with { ExtensionData = before.Manifests[1].ExtensionData, Platform = before.Manifests[1].Platform });
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(index)!["manifests"]![1], JsonNode.Parse(result.Index)!["manifests"]![1]));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(index)!["manifests"]![2], JsonNode.Parse(result.Index)!["manifests"]![2]));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(index)!["annotations"], JsonNode.Parse(result.Index)!["annotations"]));
        Assert.Equal(MediaTypes.OciIndex, rewritten.MediaType);

        var again = ManifestAugmenter.RewriteIndex(index, MediaTypes.OciIndex, new Dictionary<string, AugmentedImage> { [amd64Original] = amd64 });
        Assert.Equal(result.Index, again.Index);
    }

    [Fact]
    public void AnIndexWithNothingToRewriteIsReturnedAsItIs()
    {
        var index = Samples.OciIndex(Samples.FakeDigest('1'), Samples.FakeDigest('2'));
        var result = ManifestAugmenter.RewriteIndex(index, MediaTypes.OciIndex, new Dictionary<string, AugmentedImage>());
        Assert.Equal(index, result.Index);
        Assert.Equal(Digest.Sha256(index), result.IndexDigest);
    }

    [Fact]
    public void RewriteIndexRejectsNonIndexes()
    {
        Assert.Throws<InvalidManifestException>(() =>
            ManifestAugmenter.RewriteIndex(Samples.OciManifest, MediaTypes.OciManifest, new Dictionary<string, AugmentedImage>()));
        Assert.Throws<InvalidManifestException>(() =>
            ManifestAugmenter.RewriteIndex(Samples.OciManifest, MediaTypes.OciIndex, new Dictionary<string, AugmentedImage>()));
    }
}
