using System.Net.Http.Headers;
using System.Text;

using Wave.Core.Augmentation;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.EndToEnd;

/// <summary>Every refusal of POST /container-token and /v1alpha2/container: HTTP status, the field named, and why.</summary>
public sealed class ContainerRequestValidationTests(RegistryFixture registryFixture, WaveFixture waveFixture)
{
    private static readonly TestLayer Layer = TestLayer.Create(new Dictionary<string, string> { ["wave/hello.txt"] = "hello" });

    private async Task<(HttpClient Client, TestRegistries Registries)> SetUpAsync()
    {
        var registries = await registryFixture.GetAsync();
        var wave = await waveFixture.GetEmbeddedAsync(registries);
        return (wave.Client, registries);
    }

    private Task<ApiAnswer> PostBothAsync(Func<TestRegistries, object> request, int expectedStatus, string expectedField, string expectedText) =>
        PostAsync(request, expectedStatus, expectedField, expectedText, v1: true);

    /// <summary>Fields of the v2 API only (packages, nameStrategy): the legacy endpoint refuses them outright (see Contract tests).</summary>
    private Task<ApiAnswer> PostV2Async(Func<TestRegistries, object> request, int expectedStatus, string expectedField, string expectedText) =>
        PostAsync(request, expectedStatus, expectedField, expectedText, v1: false);

    private async Task<ApiAnswer> PostAsync(Func<TestRegistries, object> request, int expectedStatus, string expectedField, string expectedText, bool v1)
    {
        var (client, registries) = await SetUpAsync();
        ApiAnswer? last = null;
        var endpoints = v1 ? new Func<object, Task<ApiAnswer>>[] { client.PostContainerTokenAsync, client.PostContainerAsync } : [client.PostContainerAsync];
        foreach (var post in endpoints)
        {
            last = await post(request(registries));
            Assert.True(expectedStatus == last.Status, $"expected {expectedStatus}, got {last.Status}: {last.Text}");
            Assert.Equal(expectedField, last.Field);
            Assert.StartsWith(expectedField, last.Message, StringComparison.Ordinal);
            Assert.Contains(expectedText, last.Message, StringComparison.Ordinal);
        }
        return last!;
    }

    [Fact]
    public Task Both_image_and_container_file_are_refused() => PostBothAsync(
        r => new { containerImage = r.Images.DockerV2, containerFile = Convert.ToBase64String("FROM busybox"u8.ToArray()) },
        400, "containerImage", "cannot both be given");

    [Fact]
    public Task Neither_image_nor_recipe_is_refused() => PostBothAsync(_ => new { containerPlatform = "linux/amd64" }, 400, "containerImage", "is required");

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    [Theory]
    [InlineData("containerFile")]
    [InlineData("condaFile")]
    [InlineData("spackFile")]
    public Task A_recipe_without_a_build_repository_is_refused_when_the_service_has_no_default(string field) => PostBothAsync(
        _ => new Dictionary<string, object> { [field] = B64("FROM busybox\n") }, 400, "buildRepository", "no default build repository");

    [Fact]
    public Task A_recipe_that_is_not_base64_is_refused() => PostBothAsync(
        r => new { containerFile = "not base64!", buildRepository = r.Plain.Host + "/builds" }, 400, "containerFile", "base64");

    [Fact]
    public Task An_oversized_dockerfile_is_refused() => PostBothAsync(
        r => new { containerFile = B64("FROM busybox\n" + new string('#', 11 * 1024)), buildRepository = r.Plain.Host + "/builds" }, 400, "containerFile", "10240");

    [Fact]
    public Task A_dockerfile_reading_the_build_credentials_is_refused() => PostBothAsync(
        r => new { containerFile = B64("FROM busybox\nRUN cat /root/.docker/config.json\n"), buildRepository = r.Plain.Host + "/builds" },
        400, "containerFile", "credentials");

    [Fact]
    public Task Freeze_without_a_build_repository_is_refused() => PostBothAsync(
        r => new { containerImage = r.Images.DockerV2, freeze = true }, 400, "freeze", "requires buildRepository");

    [Fact]
    public Task A_build_for_an_unknown_platform_is_refused() => PostBothAsync(
        r => new { containerFile = B64("FROM busybox\n"), containerPlatform = "linux/s390x", buildRepository = r.Plain.Host + "/builds" }, 400, "containerPlatform", "s390x");

    [Fact]
    public Task An_unknown_name_strategy_is_refused() => PostV2Async(
        r => new { containerFile = B64("FROM busybox\n"), nameStrategy = "random", buildRepository = r.Plain.Host + "/builds" }, 400, "nameStrategy", "random");

    [Fact]
    public Task Packages_of_an_unknown_type_are_refused() => PostV2Async(
        r => new { packages = new { type = "PIP", entries = new[] { "numpy" } }, buildRepository = r.Plain.Host + "/builds" }, 400, "packages.type", "PIP");

    [Fact]
    public Task Packages_that_are_not_an_object_are_refused() => PostV2Async(
        _ => new { packages = "salmon" }, 400, "packages", "must be an object");

    [Fact]
    public Task Packages_with_a_wrongly_typed_field_are_refused() => PostV2Async(
        _ => new { packages = new { type = "CONDA", entries = "salmon" } }, 400, "packages.entries", "wrong type");

    [Theory]
    [InlineData("UPPER/case:tag", "UPPER/case:tag")]
    [InlineData("busybox:bad tag", "busybox:bad tag")]
    [InlineData("busybox@sha256:1234", "sha256:1234")]
    [InlineData("", "is required")]
    public Task Unparsable_image_names_are_refused(string image, string expected) => PostBothAsync(
        _ => new { containerImage = image }, 400, "containerImage", expected);

    [Fact]
    public Task Config_on_a_digest_pinned_image_is_refused() => PostBothAsync(
        r => new { containerImage = r.Images.DockerV2.Split(':')[0] + ":" + r.Images.DockerV2.Split(':')[1] + "@sha256:" + new string('a', 64), containerConfig = new { env = new[] { "A=1" } } },
        400, "containerConfig", "pinned by digest");

    [Theory]
    [InlineData("linux/ppc64le")]
    [InlineData("windows/amd64")]
    [InlineData("arm")]
    public Task Unknown_platforms_are_refused(string platform) => PostBothAsync(
        r => new { containerImage = r.Images.DockerV2, containerPlatform = platform }, 400, "containerPlatform", platform);

    private static object WithLayer(TestRegistries r, ContainerLayer layer) => new { containerImage = r.Images.DockerV2, containerConfig = new { layers = new[] { layer } } };

    [Fact]
    public Task A_layer_without_location_is_refused() => PostBothAsync(r => WithLayer(r, Layer.AsDataLayer() with { Location = null }), 400, "containerConfig.layers[0].location", "is required");

    [Fact]
    public Task A_layer_with_an_ftp_location_is_refused() => PostBothAsync(r => WithLayer(r, Layer.AsRemoteLayer("ftp://example.com/layer.tgz")), 400, "containerConfig.layers[0].location", "http(s) URL");

    [Fact]
    public Task A_layer_without_gzip_digest_is_refused() => PostBothAsync(r => WithLayer(r, Layer.AsDataLayer() with { GzipDigest = null }), 400, "containerConfig.layers[0].gzipDigest", "is required");

    [Fact]
    public Task A_layer_with_a_malformed_tar_digest_is_refused() => PostBothAsync(r => WithLayer(r, Layer.AsDataLayer() with { TarDigest = "md5:abc" }), 400, "containerConfig.layers[0].tarDigest", "md5:abc");

    [Fact]
    public Task A_layer_without_size_is_refused() => PostBothAsync(r => WithLayer(r, Layer.AsDataLayer() with { GzipSize = 0 }), 400, "containerConfig.layers[0].gzipSize", "greater than zero");

    [Fact]
    public Task A_data_layer_whose_bytes_do_not_match_gzip_digest_is_refused() => PostBothAsync(
        r => WithLayer(r, Layer.AsDataLayer() with { GzipDigest = "sha256:" + new string('0', 64) }), 400, "containerConfig.layers[0].gzipDigest", Layer.GzipDigest);

    [Fact]
    public Task A_data_layer_whose_size_does_not_match_is_refused() => PostBothAsync(
        r => WithLayer(r, Layer.AsDataLayer() with { GzipSize = Layer.Gzip.Length + 1 }), 400, "containerConfig.layers[0].gzipSize", $"has {Layer.Gzip.Length}");

    [Fact]
    public Task A_data_layer_whose_tar_does_not_match_tar_digest_is_refused() => PostBothAsync(
        r => WithLayer(r, Layer.AsDataLayer() with { TarDigest = Layer.GzipDigest }), 400, "containerConfig.layers[0].tarDigest", Layer.TarDigest);

    [Fact]
    public Task A_data_layer_that_is_not_base64_is_refused() => PostBothAsync(
        r => WithLayer(r, Layer.AsDataLayer() with { Location = "data:not*base64!" }), 400, "containerConfig.layers[0].location", "base64");

    [Fact]
    public Task A_data_layer_that_is_not_gzip_is_refused()
    {
        var notGzip = "plain text, not gzip"u8.ToArray();
        var digest = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(notGzip));
        return PostBothAsync(r => WithLayer(r, new ContainerLayer { Location = "data:" + Convert.ToBase64String(notGzip), GzipDigest = digest, GzipSize = notGzip.Length, TarDigest = digest }),
            400, "containerConfig.layers[0].location", "gzip");
    }

    [Fact]
    public Task An_env_entry_without_equals_is_refused() => PostBothAsync(
        r => new { containerImage = r.Images.DockerV2, containerConfig = new { env = new[] { "GOOD=1", "BAD" } } }, 400, "containerConfig.env[1]", "NAME=VALUE");

    [Fact]
    public Task A_wrongly_typed_field_is_refused_naming_it() => PostBothAsync(
        r => new { containerImage = r.Images.DockerV2, containerConfig = new { layers = new[] { new { location = "data:AAAA", gzipSize = "many" } } } },
        400, "containerConfig.layers[0].gzipSize", "wrong type");

    [Fact]
    public Task An_image_missing_from_the_registry_is_refused() => PostBothAsync(
        r => new { containerImage = r.Images.DockerV2.Replace(":v2", ":no-such-tag") }, 400, "containerImage", "was not found");

    [Fact]
    public Task A_private_image_without_credentials_is_refused()
    {
        // The embedded host has credentials for the Basic registry, under its host name; ask for the image under
        // "localhost:PORT", a host name for which no credentials are configured.
        return PostBothAsync(r => new { containerImage = r.Images.BasicPrivate.Replace("127.0.0.1", "localhost") }, 400, "containerImage", "cannot be accessed");
    }

    [Fact]
    public async Task Malformed_json_is_a_400_not_a_500()
    {
        var (client, _) = await SetUpAsync();
        foreach (var body in new[] { "{", "[]", "null", "{\"containerImage\": }", "\"text\"" })
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            var answer = await WaveApi.ReadAsync(await client.PostAsync("/v1alpha2/container", content, TestContext.Current.CancellationToken));
            Assert.True(answer.Status == 400, $"{body}: {answer.Status} {answer.Text}");
            Assert.Contains("request body", answer.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_refused_as_such()
    {
        var (client, _) = await SetUpAsync();
        using var content = new StringContent("containerImage=busybox", Encoding.UTF8, "application/x-www-form-urlencoded");
        var answer = await WaveApi.ReadAsync(await client.PostAsync("/v1alpha2/container", content, TestContext.Current.CancellationToken));
        Assert.Equal(415, answer.Status);
        Assert.Contains("JSON", answer.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_oversized_body_is_refused_with_413()
    {
        var (client, _) = await SetUpAsync();
        var huge = new string('a', 17 * 1024 * 1024);
        using var content = new StringContent($"{{\"containerImage\":\"busybox\",\"fingerprint\":\"{huge}\"}}", Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var answer = await WaveApi.ReadAsync(await client.PostAsync("/v1alpha2/container", content, TestContext.Current.CancellationToken));
        Assert.Equal(413, answer.Status);
        Assert.Contains("Wave:Limits:MaxRequestBytes", answer.Message, StringComparison.Ordinal);
    }
}
