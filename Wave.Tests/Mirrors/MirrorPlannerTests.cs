using System.Text;

using Wave.Core.Digests;
using Wave.Core.Manifests;
using Wave.Core.Mirrors;
using Wave.Core.Names;

namespace Wave.Tests.Mirrors;

/// <summary>The pure part of a mirror: its id, the target name, and the plan of what to copy in what order.</summary>
public sealed class MirrorPlannerTests
{
    private static string Hex(char c) => "sha256:" + new string(c, 64);

    [Fact]
    public void The_content_id_is_pinned_and_depends_on_the_source_digest_and_the_target_only()
    {
        var id = MirrorId.ContentId(Hex('a'), "quay.io/me/library/busybox:1.36");
        // Pinned (computed apart from the code, from the encoding in MirrorId's remarks): changing it renames every mirror.
        Assert.Equal("2a1a2fa570e0b79d", id);
        Assert.Equal(id, MirrorId.ContentId(Hex('a'), "quay.io/me/library/busybox:1.36"));
        Assert.NotEqual(id, MirrorId.ContentId(Hex('b'), "quay.io/me/library/busybox:1.36"));
        Assert.NotEqual(id, MirrorId.ContentId(Hex('a'), "quay.io/you/library/busybox:1.36"));
        Assert.Equal("mr-2a1a2fa570e0b79d_1", MirrorId.Format(id, 1));
        Assert.Equal("mr-2a1a2fa570e0b79d_0", MirrorId.DryRun(id));
    }

    [Theory]
    [InlineData("mr-0123456789abcdef_1", true)]
    [InlineData("mr-0123456789abcdef_12", true)]
    [InlineData("mr-0123456789abcdef_0", false)]
    [InlineData("mr-0123456789abcdef_01", false)]
    [InlineData("mr-0123456789ABCDEF_1", false)]
    [InlineData("bd-0123456789abcdef_1", false)]
    [InlineData("mr-0123456789abcdef", false)]
    [InlineData("0123456789abcdef_1", false)]
    [InlineData(null, false)]
    public void Only_mirror_ids_parse(string? value, bool parses) => Assert.Equal(parses, MirrorId.TryParse(value, out _, out _));

    [Theory]
    [InlineData("docker.io/library/busybox:1.36", "quay.io/me", "quay.io/me/library/busybox:1.36")]
    [InlineData("busybox", "quay.io/me", "quay.io/me/library/busybox:latest")]
    [InlineData("docker.io/library/busybox:1.36", "quay.io", "quay.io/library/busybox:1.36")]
    [InlineData("docker.io/library/busybox:1.36", "localhost:5000/", "localhost:5000/library/busybox:1.36")]
    [InlineData("ghcr.io/org/tool:2@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "registry.example.com/mirror/team",
        "registry.example.com/mirror/team/org/tool:2@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public void The_target_keeps_the_source_path_and_tag_under_the_build_repository(string source, string repository, string expected)
    {
        var target = MirrorTarget.TryName(ImageReference.Parse(source), repository, out var problem);
        Assert.Null(problem);
        Assert.Equal(expected, target!.ToString());
    }

    [Theory]
    [InlineData("https://quay.io/me", "protocol prefix")]
    [InlineData("quay.io/me:v1", "tag or digest suffix")]
    [InlineData("quay.io/Me", "not a valid repository name")]
    public void A_build_repository_that_cannot_take_a_mirror_says_why(string repository, string problem)
    {
        Assert.Null(MirrorTarget.TryName(ImageReference.Parse("busybox"), repository, out var why));
        Assert.Contains(problem, why, StringComparison.Ordinal);
    }

    private static MirrorManifest Image(string configDigest, params string[] layers)
    {
        var manifest = new ImageManifest
        {
            MediaType = MediaTypes.OciManifest,
            Config = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = configDigest, Size = 100 },
            Layers = [.. layers.Select((l, i) => new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = l, Size = 1000 + i })],
        };
        var bytes = ManifestJson.Serialize(manifest);
        return new MirrorManifest(Digest.Sha256(bytes), MediaTypes.OciManifest, bytes);
    }

    private static MirrorManifest Index(params (MirrorManifest Manifest, string Os, string Arch)[] entries)
    {
        var index = new ImageIndex
        {
            MediaType = MediaTypes.OciIndex,
            Manifests = [.. entries.Select(e => new Descriptor
            {
                MediaType = e.Manifest.MediaType, Digest = e.Manifest.Digest, Size = e.Manifest.Content.Length,
                Platform = new PlatformSpec { Os = e.Os, Architecture = e.Arch },
            })],
        };
        var bytes = ManifestJson.Serialize(index);
        return new MirrorManifest(Digest.Sha256(bytes), MediaTypes.OciIndex, bytes);
    }

    private static Dictionary<string, MirrorManifest> Fetched(params MirrorManifest[] manifests) => manifests.ToDictionary(m => m.Digest, StringComparer.Ordinal);

    [Fact]
    public void An_index_is_copied_blobs_first_each_once_then_its_manifests_children_first_then_the_tag()
    {
        var amd64 = Image(Hex('1'), Hex('a'), Hex('b'));
        var arm64 = Image(Hex('2'), Hex('a'), Hex('c'));
        var index = Index((amd64, "linux", "amd64"), (arm64, "linux", "arm64"));

        Assert.Equal([index.Digest], MirrorPlanner.MissingManifests(index.Digest, new Dictionary<string, MirrorManifest>()));
        Assert.Equal([amd64.Digest, arm64.Digest], MirrorPlanner.MissingManifests(index.Digest, Fetched(index)));
        Assert.Empty(MirrorPlanner.MissingManifests(index.Digest, Fetched(index, amd64, arm64)));

        var plan = MirrorPlanner.Plan(index.Digest, "multi", Fetched(index, amd64, arm64));

        // The shared layer sha256:aaa… once.
        Assert.Equal([Hex('1'), Hex('a'), Hex('b'), Hex('2'), Hex('c')], plan.Blobs.Select(b => b.Digest));
        Assert.Equal([amd64.Digest, arm64.Digest, index.Digest, index.Digest], plan.Manifests.Select(m => m.Digest));
        Assert.Equal([amd64.Digest, arm64.Digest, index.Digest, "multi"], plan.Manifests.Select(m => m.Reference));
        // The exact bytes read are written, so the target's digests are the source's.
        Assert.All(plan.Manifests, m => Assert.True(Digest.Matches(m.Digest, m.Content)));
        Assert.Equal(["linux/amd64", "linux/arm64"], plan.Platforms);
        Assert.Equal(100 + 1000 + 1001 + 100 + 1001, plan.TotalBytes);
    }

    [Fact]
    public void An_image_by_digest_has_no_tag_step_and_foreign_layers_are_left_to_their_urls()
    {
        var manifest = new ImageManifest
        {
            MediaType = MediaTypes.DockerManifest,
            Config = new Descriptor { MediaType = MediaTypes.DockerConfig, Digest = Hex('1'), Size = 10 },
            Layers =
            [
                new Descriptor { MediaType = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", Digest = Hex('f'), Size = 5 },
                new Descriptor { MediaType = MediaTypes.DockerLayerGzip, Digest = Hex('a'), Size = 7 },
            ],
        };
        var bytes = ManifestJson.Serialize(manifest);
        var image = new MirrorManifest(Digest.Sha256(bytes), MediaTypes.DockerManifest, bytes);

        var plan = MirrorPlanner.Plan(image.Digest, null, Fetched(image));

        Assert.Equal([Hex('1'), Hex('a')], plan.Blobs.Select(b => b.Digest));
        Assert.Equal([Hex('f')], plan.ForeignLayers.Select(b => b.Digest));
        Assert.Equal([image.Digest], plan.Manifests.Select(m => m.Reference));
    }

    [Fact]
    public void Documents_that_are_not_what_their_digest_or_index_says_are_refused()
    {
        var image = Image(Hex('1'), Hex('a'));
        var altered = image with { Content = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(image.Content).Replace("1000", "1001", StringComparison.Ordinal)) };
        Assert.Contains("does not hash to its digest", Assert.Throws<UnsupportedMirrorSourceException>(() => MirrorPlanner.Plan(image.Digest, "t", Fetched(altered))).Message,
            StringComparison.Ordinal);

        var index = Index((image, "linux", "amd64"));
        var lying = index with
        {
            Content = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(index.Content).Replace($"\"size\":{image.Content.Length}", "\"size\":3", StringComparison.Ordinal)),
        };
        lying = lying with { Digest = Digest.Sha256(lying.Content) };
        Assert.Contains("says manifest", Assert.Throws<UnsupportedMirrorSourceException>(() => MirrorPlanner.Plan(lying.Digest, "t", Fetched(lying, image))).Message,
            StringComparison.Ordinal);

        var schema1 = new MirrorManifest(Digest.Sha256("{}"u8), "application/vnd.docker.distribution.manifest.v1+prettyjws", "{}"u8.ToArray());
        Assert.Contains("cannot be mirrored", Assert.Throws<UnsupportedMirrorSourceException>(() => MirrorPlanner.Plan(schema1.Digest, "t", Fetched(schema1))).Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Indexes_nested_deeper_than_two_levels_are_refused()
    {
        var image = Image(Hex('1'), Hex('a'));
        var inner = Index((image, "linux", "amd64"));
        var middle = Index((inner, "linux", "amd64"));
        var outer = Index((middle, "linux", "amd64"));

        // Two levels (index of an index) are mirrored.
        Assert.Equal(4, MirrorPlanner.Plan(middle.Digest, "t", Fetched(middle, inner, image)).Manifests.Count);
        Assert.Throws<UnsupportedMirrorSourceException>(() => MirrorPlanner.Plan(outer.Digest, "t", Fetched(outer, middle, inner, image)));
    }
}
