using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json.Nodes;

using Wave.Tests.Infrastructure;

namespace Wave.Tests.EndToEnd;

/// <summary>The /v2/ answers themselves: headers, digests of the exact bytes, and OCI errors.</summary>
public sealed class RegistryProtocolTests(RegistryFixture registryFixture, WaveFixture waveFixture)
{
    private static readonly TestLayer Layer = TestLayer.Create(new Dictionary<string, string> { ["wave/protocol.txt"] = "protocol" });

    private const string ManifestAccept = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, "
        + "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

    private async Task<(WaveTestHost Wave, TestRegistries Registries, ApiAnswer Answer)> IssueAsync(object? containerConfig = null, string? image = null)
    {
        var registries = await registryFixture.GetAsync();
        var wave = await waveFixture.GetEmbeddedAsync(registries);
        var answer = await wave.Client.PostContainerAsync(new
        {
            containerImage = image ?? registries.Images.DockerV2,
            containerConfig = containerConfig ?? new { layers = new[] { Layer.AsDataLayer() } },
        });
        Assert.True(answer.Status == 200, answer.Text);
        return (wave, registries, answer);
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Accept.ParseAdd(ManifestAccept);
        return await client.SendAsync(request, TestContext.Current.CancellationToken);
    }

    private static string PathOf(ApiAnswer answer, string kind, string reference)
    {
        var name = answer.TargetImage[(answer.TargetImage.IndexOf('/') + 1)..];
        var repository = name[..name.LastIndexOf(':')];
        return $"/v2/{repository}/{kind}/{reference}";
    }

    [Fact]
    public async Task The_base_endpoint_announces_the_registry_api_version()
    {
        var (wave, _, _) = await IssueAsync();
        using var response = await wave.Client.GetAsync("/v2/", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("registry/2.0", response.Headers.GetValues("Docker-Distribution-Api-Version").Single());
    }

    [Fact]
    public async Task Manifests_carry_exact_type_length_and_digest_and_head_matches_get()
    {
        var (wave, _, answer) = await IssueAsync();
        var path = PathOf(answer, "manifests", "v2");
        using var get = await SendAsync(wave.Client, HttpMethod.Get, path);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        var body = await get.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken);
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(body));
        Assert.Equal(digest, get.Headers.GetValues("Docker-Content-Digest").Single());
        Assert.Equal(body.Length, get.Content.Headers.ContentLength);
        Assert.Equal("application/vnd.docker.distribution.manifest.v2+json", get.Content.Headers.ContentType!.MediaType);

        using var head = await SendAsync(wave.Client, HttpMethod.Head, path);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(digest, head.Headers.GetValues("Docker-Content-Digest").Single());
        Assert.Equal(body.Length, head.Content.Headers.ContentLength);
        Assert.Equal("application/vnd.docker.distribution.manifest.v2+json", head.Content.Headers.ContentType!.MediaType);

        // The same manifest by its digest, and its config blob with the digest the manifest names.
        using var byDigest = await SendAsync(wave.Client, HttpMethod.Get, PathOf(answer, "manifests", digest));
        Assert.Equal(body, await byDigest.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken));
        var configDigest = JsonNode.Parse(body)!["config"]!["digest"]!.GetValue<string>();
        using var config = await wave.Client.GetAsync(PathOf(answer, "blobs", configDigest), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, config.StatusCode);
        Assert.Equal(configDigest, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(await config.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken))));

        // The data: layer comes from Wave, with its exact bytes.
        using var layer = await wave.Client.GetAsync(PathOf(answer, "blobs", Layer.GzipDigest), TestContext.Current.CancellationToken);
        Assert.Equal(Layer.Gzip, await layer.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken));
        Assert.Equal(Layer.GzipDigest, layer.Headers.GetValues("Docker-Content-Digest").Single());
    }

    [Fact]
    public async Task An_http_layer_location_is_a_redirect()
    {
        const string location = "https://layers.example.com/wave/layer.tar.gz";
        var (wave, _, answer) = await IssueAsync(new { layers = new[] { Layer.AsRemoteLayer(location) } });
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = wave.BaseAddress };
        using var response = await client.GetAsync(PathOf(answer, "blobs", Layer.GzipDigest), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.TemporaryRedirect, response.StatusCode);
        Assert.Equal(location, response.Headers.Location!.ToString());
    }

    [Fact]
    public async Task Upstream_blobs_stream_through_with_their_digest()
    {
        var (wave, registries, answer) = await IssueAsync();
        var direct = JsonNode.Parse(await TestProcess.RunAsync(Requirements.Binary("skopeo", "skopeo"),
            ["inspect", "--raw", "--tls-verify=false", $"docker://{registries.Images.DockerV2}"]))!;
        var baseLayer = direct["layers"]![0]!["digest"]!.GetValue<string>();
        using var response = await wave.Client.GetAsync(PathOf(answer, "blobs", baseLayer), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var bytes = await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken);
        Assert.Equal(baseLayer, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes)));
        Assert.Equal(bytes.Length, response.Content.Headers.ContentLength);
    }

    private static async Task AssertOciErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code, string messagePart)
    {
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(status == response.StatusCode, $"expected {status}, got {response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonNode.Parse(text)!["errors"]![0]!;
        Assert.Equal(code, error["code"]!.GetValue<string>());
        Assert.Contains(messagePart, error["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_token_is_name_unknown()
    {
        var (wave, _, _) = await IssueAsync();
        using var response = await wave.Client.GetAsync("/v2/wt/0123456789abcdef01234567/base/busybox/manifests/v2", TestContext.Current.CancellationToken);
        await AssertOciErrorAsync(response, HttpStatusCode.NotFound, "NAME_UNKNOWN", "unknown or has expired");
    }

    [Fact]
    public async Task A_token_used_for_another_repository_is_name_unknown()
    {
        var (wave, _, answer) = await IssueAsync();
        using var response = await wave.Client.GetAsync($"/v2/wt/{answer.Token}/library/other/manifests/v2", TestContext.Current.CancellationToken);
        await AssertOciErrorAsync(response, HttpStatusCode.NotFound, "NAME_UNKNOWN", "was issued for repository 'base/busybox'");
    }

    [Fact]
    public async Task Another_tag_is_manifest_unknown()
    {
        var (wave, _, answer) = await IssueAsync();
        using var response = await SendAsync(wave.Client, HttpMethod.Get, PathOf(answer, "manifests", "latest"));
        await AssertOciErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN", "serves tag 'v2'");
    }

    [Fact]
    public async Task An_unknown_blob_is_blob_unknown_and_a_bad_digest_is_digest_invalid()
    {
        var (wave, _, answer) = await IssueAsync();
        using var missing = await wave.Client.GetAsync(PathOf(answer, "blobs", "sha256:" + new string('e', 64)), TestContext.Current.CancellationToken);
        await AssertOciErrorAsync(missing, HttpStatusCode.NotFound, "BLOB_UNKNOWN", "sha256:eeee");
        using var bad = await wave.Client.GetAsync(PathOf(answer, "blobs", "sha256:xyz"), TestContext.Current.CancellationToken);
        await AssertOciErrorAsync(bad, HttpStatusCode.BadRequest, "DIGEST_INVALID", "sha256:xyz");
    }

    [Fact]
    public async Task Pushes_are_unsupported()
    {
        var (wave, _, answer) = await IssueAsync();
        using var content = new ByteArrayContent([1, 2, 3]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.docker.distribution.manifest.v2+json");
        using var response = await wave.Client.PutAsync(PathOf(answer, "manifests", "v2"), content, TestContext.Current.CancellationToken);
        await AssertOciErrorAsync(response, HttpStatusCode.MethodNotAllowed, "UNSUPPORTED", "read-only");
    }

    [Fact]
    public async Task A_path_outside_wave_tokens_is_name_unknown()
    {
        var (wave, _, _) = await IssueAsync();
        using var response = await wave.Client.GetAsync("/v2/library/busybox/manifests/latest", TestContext.Current.CancellationToken);
        await AssertOciErrorAsync(response, HttpStatusCode.NotFound, "NAME_UNKNOWN", "/v2/wt/<token>/");
    }

    [Fact]
    public async Task Concurrent_first_pulls_of_a_token_all_get_the_same_manifest()
    {
        var (wave, _, answer) = await IssueAsync();
        var path = PathOf(answer, "manifests", "v2");
        var digests = await Task.WhenAll(Enumerable.Range(0, 32).Select(async _ =>
        {
            using var response = await SendAsync(wave.Client, HttpMethod.Get, path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return response.Headers.GetValues("Docker-Content-Digest").Single();
        }));
        Assert.Single(digests.Distinct());
    }

    [Fact]
    public async Task A_platform_an_index_lacks_is_refused_naming_what_it_has()
    {
        var registries = await registryFixture.GetAsync();
        var wave = await waveFixture.GetEmbeddedAsync(registries);
        // An index with only the amd64 entry of the multi-arch base image.
        var multi = JsonNode.Parse(await TestProcess.RunAsync(Requirements.Binary("skopeo", "skopeo"),
            ["inspect", "--raw", "--tls-verify=false", $"docker://{registries.Images.MultiArch}"]))!;
        var amd64 = multi["manifests"]!.AsArray().First(m => m!["platform"]!["architecture"]!.GetValue<string>() == "amd64")!.DeepClone();
        multi["manifests"] = new JsonArray(amd64);
        using var pusher = new RegistryPusher(registries.Plain);
        var repository = registries.Images.MultiArch[(registries.Plain.Host.Length + 1)..registries.Images.MultiArch.LastIndexOf(':')];
        await pusher.PushManifestAsync(repository, "amd64-only", System.Text.Encoding.UTF8.GetBytes(multi.ToJsonString()), multi["mediaType"]?.GetValue<string>() ?? "application/vnd.oci.image.index.v1+json", TestContext.Current.CancellationToken);

        var answer = await wave.Client.PostContainerAsync(new { containerImage = $"{registries.Plain.Host}/{repository}:amd64-only", containerPlatform = "linux/arm64" });
        Assert.Equal(400, answer.Status);
        Assert.Equal("containerPlatform", answer.Field);
        Assert.Contains("linux/amd64", answer.Message, StringComparison.Ordinal);
    }
}
