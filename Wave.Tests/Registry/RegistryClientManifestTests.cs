using System.Security.Cryptography;

using Wave.Core.Manifests;
using Wave.Core.Registry;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Registry;

/// <summary>Manifests and blobs from the open test registry, checked against skopeo.</summary>
public sealed class RegistryClientManifestTests(RegistryFixture fixture)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Ping_succeeds_on_an_open_registry()
    {
        var registries = await fixture.GetAsync();
        var (client, _) = TestClients.Create();
        await client.PingAsync(registries.Plain.Host, Cancel);
    }

    [Theory]
    [InlineData("v2", MediaTypes.DockerManifest)]
    [InlineData("oci", MediaTypes.OciManifest)]
    [InlineData("multi", MediaTypes.OciIndex)]
    public async Task Get_and_head_manifest_give_media_type_and_the_digest_skopeo_sees(string which, string mediaType)
    {
        var registries = await fixture.GetAsync();
        var image = which switch { "v2" => registries.Images.DockerV2, "oci" => registries.Images.Oci, _ => registries.Images.MultiArch };
        var (registry, repository, tag) = TestClients.Split(image);
        var (client, _) = TestClients.Create();

        var manifest = await client.GetManifestAsync(registry, repository, tag, Cancel);
        var head = await client.HeadManifestAsync(registry, repository, tag, Cancel);

        Assert.Equal(mediaType, manifest.MediaType);
        Assert.Equal(await TestClients.SkopeoDigestAsync(image), manifest.Digest);
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(manifest.Content)), manifest.Digest);
        Assert.Equal(new ManifestHead(mediaType, manifest.Digest, manifest.Content.LongLength), head);
    }

    [Fact]
    public async Task The_multi_arch_index_lists_amd64_and_arm64_and_each_child_is_fetchable_by_digest()
    {
        var registries = await fixture.GetAsync();
        var (registry, repository, tag) = TestClients.Split(registries.Images.MultiArch);
        var (client, _) = TestClients.Create();

        var index = await client.GetManifestAsync(registry, repository, tag, Cancel);
        var architectures = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var child = await client.GetManifestAsync(registry, repository, TestClients.Field(index.Content, "manifests", $"{i}", "digest"), Cancel);
            Assert.Equal(MediaTypes.OciManifest, child.MediaType);
            var config = await client.GetBlobBytesAsync(registry, repository, TestClients.Field(child.Content, "config", "digest"), 1024 * 1024, Cancel);
            architectures.Add(TestClients.Field(config, "architecture"));
        }
        Assert.Equal(["amd64", "arm64"], architectures.Order());
    }

    [Fact]
    public async Task Config_blob_bytes_are_digest_verified_and_limited_in_size()
    {
        var registries = await fixture.GetAsync();
        var (registry, repository, tag) = TestClients.Split(registries.Images.DockerV2);
        var (client, _) = TestClients.Create();
        var manifest = await client.GetManifestAsync(registry, repository, tag, Cancel);
        var configDigest = TestClients.Field(manifest.Content, "config", "digest");

        var config = await client.GetBlobBytesAsync(registry, repository, configDigest, 1024 * 1024, Cancel);
        Assert.Equal(configDigest, RegistryPusher.Sha256(config));
        Assert.Equal("amd64", TestClients.Field(config, "architecture"));
        Assert.Equal("/bin/sh", TestClients.Field(config, "config", "Cmd", "0"));

        var tooSmall = await Assert.ThrowsAsync<RegistryException>(() => client.GetBlobBytesAsync(registry, repository, configDigest, 10, Cancel));
        Assert.Equal(RegistryErrorKind.InvalidResponse, tooSmall.Kind);
    }

    [Fact]
    public async Task A_layer_streams_with_its_digest_and_head_gives_its_size()
    {
        var registries = await fixture.GetAsync();
        var (registry, repository, tag) = TestClients.Split(registries.Images.Oci);
        var (client, _) = TestClients.Create();
        var manifest = await client.GetManifestAsync(registry, repository, tag, Cancel);
        var layerDigest = TestClients.Field(manifest.Content, "layers", "0", "digest");
        var layerSize = long.Parse(TestClients.Field(manifest.Content, "layers", "0", "size"));

        using (var blob = await client.GetBlobAsync(registry, repository, layerDigest, headOnly: false, Cancel))
        {
            Assert.Null(blob.RedirectTo);
            await using var stream = await blob.Response!.Content.ReadAsStreamAsync(Cancel);
            Assert.Equal(layerDigest, "sha256:" + Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, Cancel)));
        }
        using var head = await client.GetBlobAsync(registry, repository, layerDigest, headOnly: true, Cancel);
        Assert.Equal(layerSize, head.Response!.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task Missing_tags_repositories_and_blobs_are_NotFound_naming_the_registry()
    {
        var registries = await fixture.GetAsync();
        var registry = registries.Plain.Host;
        var (client, _) = TestClients.Create();

        var tag = await Assert.ThrowsAsync<RegistryException>(() => client.GetManifestAsync(registry, "base/busybox", "no-such-tag", Cancel));
        var repo = await Assert.ThrowsAsync<RegistryException>(() => client.HeadManifestAsync(registry, "no/such-repo", "latest", Cancel));
        var blob = await Assert.ThrowsAsync<RegistryException>(() => client.GetBlobAsync(registry, "base/busybox", "sha256:" + new string('0', 64), false, Cancel));

        Assert.All([tag, repo, blob], e =>
        {
            Assert.Equal(RegistryErrorKind.NotFound, e.Kind);
            Assert.Contains(registry, e.Message);
        });
        Assert.Contains("MANIFEST_UNKNOWN", tag.Message);
    }

    [Fact]
    public async Task Content_pushed_over_the_API_reads_back_and_a_wrong_digest_is_rejected()
    {
        var registries = await fixture.GetAsync();
        var registry = registries.Plain.Host;
        using var pusher = new RegistryPusher(registries.Plain);
        var config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"u8.ToArray();
        var configDigest = await pusher.PushBlobAsync("pushed/app", config, Cancel);
        // No mediaType field and no manifest Content-Type: the client has to tell from the document's shape.
        var manifest = System.Text.Encoding.UTF8.GetBytes(
            $"{{\"schemaVersion\":2,\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"{configDigest}\",\"size\":{config.Length}}},\"layers\":[]}}");
        var manifestDigest = await pusher.PushManifestAsync("pushed/app", "t1", manifest, MediaTypes.OciManifest, Cancel);
        var (client, _) = TestClients.Create();

        var fetched = await client.GetManifestAsync(registry, "pushed/app", "t1", Cancel);
        Assert.Equal(manifest, fetched.Content);
        Assert.Equal(manifestDigest, fetched.Digest);
        Assert.Equal(MediaTypes.OciManifest, fetched.MediaType);
        Assert.Equal(config, await client.GetBlobBytesAsync(registry, "pushed/app", configDigest, 4096, Cancel));

        var byDigest = await client.GetManifestAsync(registry, "pushed/app", manifestDigest, Cancel);
        Assert.Equal(manifest, byDigest.Content);
    }
}
