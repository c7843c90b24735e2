using System.Text;
using System.Text.Json;

using Wave.Builder.Local;
using Wave.Core.Registry;

namespace Wave.Tests.Builds.Local;

public sealed class RegistryAccessTests
{
    [Fact]
    public void Images_of_a_dockerfile_are_its_bases_and_copy_sources_but_not_its_stages()
    {
        const string dockerfile = """
            ARG BASE=busybox
            FROM --platform=linux/arm64 127.0.0.1:5000/base/busybox:v2 AS builder
            RUN echo hi
            from registry.example.com/tools:1 as tools
            FROM $BASE
            FROM builder
            COPY --from=builder /a /a
            COPY --chown=1:1 --from=localhost:5001/other/image:2 /b /b
            COPY --from=0 /c /c
            FROM scratch
            """;
        Assert.Equal(
            ["127.0.0.1:5000/base/busybox:v2", "registry.example.com/tools:1", "localhost:5001/other/image:2"],
            RegistryAccess.ImagesOf(dockerfile));
    }

    [Theory]
    [InlineData("127.0.0.1:5000", true)]
    [InlineData("127.1.2.3", true)]
    [InlineData("localhost", true)]
    [InlineData("LOCALHOST:5000", true)]
    [InlineData("[::1]:5000", true)]
    [InlineData("registry.example.com", false)]
    [InlineData("10.0.0.1:5000", false)]
    [InlineData("docker.io", false)]
    public void Loopback_registries_are_recognised_with_or_without_port(string registry, bool loopback) =>
        Assert.Equal(loopback, RegistryAccess.IsLoopback(registry));

    [Fact]
    public void Insecure_registries_are_the_configured_ones_and_the_loopback_ones_of_the_build()
    {
        var insecure = RegistryAccess.InsecureRegistries(
            ["registry.internal:5000", " "],
            ["127.0.0.1:5000", "docker.io", "registry.example.com", "localhost:5001", "127.0.0.1:5000"]);
        Assert.Equal(["127.0.0.1:5000", "localhost:5001", "registry.internal:5000"], insecure);
    }

    [Fact]
    public void Registries_conf_marks_each_insecure_registry_and_resolves_short_names_on_docker_hub()
    {
        var conf = RegistryAccess.RegistriesConf(["127.0.0.1:5000", "registry.internal"]);
        Assert.Equal("""
            unqualified-search-registries = ["docker.io"]
            short-name-mode = "permissive"

            [[registry]]
            location = "127.0.0.1:5000"
            insecure = true

            [[registry]]
            location = "registry.internal"
            insecure = true

            """.Replace("\r\n", "\n", StringComparison.Ordinal), conf);
    }

    [Fact]
    public void Auth_json_holds_basic_credentials_per_registry()
    {
        var json = RegistryAccess.AuthJson(new Dictionary<string, RegistryCredentials>
        {
            ["127.0.0.1:5000"] = new("user", "p@ss:word\"{}"),
            ["docker.io"] = new("hub", "token"),
        });
        using var document = JsonDocument.Parse(json);
        var auths = document.RootElement.GetProperty("auths");
        string Decoded(string registry) => Encoding.UTF8.GetString(Convert.FromBase64String(auths.GetProperty(registry).GetProperty("auth").GetString()!));
        Assert.Equal("user:p@ss:word\"{}", Decoded("127.0.0.1:5000"));
        Assert.Equal("hub:token", Decoded("docker.io"));
        Assert.Equal("""{"auths":{}}""", RegistryAccess.AuthJson(new Dictionary<string, RegistryCredentials>()));
    }

    [Theory]
    [InlineData("busybox", "docker.io")]
    [InlineData("127.0.0.1:5000/builds/x:1", "127.0.0.1:5000")]
    [InlineData("quay.io/org/image@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "quay.io")]
    [InlineData("Not A Name", null)]
    public void The_registry_of_an_image_is_normalised_like_docker(string image, string? registry) =>
        Assert.Equal(registry, RegistryAccess.RegistryOf(image));
}
