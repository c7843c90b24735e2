using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

using Wave.Core.Registry;

namespace Wave.Tests.Registry;

public sealed class RegistryAddressingTests
{
    private static RegistryClient Client(params RegistryEndpoint[] registries)
    {
        var options = Options.Create(new RegistryOptions { Registries = [.. registries] });
        return new RegistryClient(new HttpClient(), new ConfiguredRegistryCredentials(options), options, TimeProvider.System, NullLogger<RegistryClient>.Instance);
    }

    [Theory]
    [InlineData("docker.io", "https://registry-1.docker.io/")]
    [InlineData("index.docker.io", "https://registry-1.docker.io/")]
    [InlineData("quay.io", "https://quay.io/")]
    [InlineData("registry.example.com:5443", "https://registry.example.com:5443/")]
    [InlineData("localhost", "http://localhost/")]
    [InlineData("localhost:5000", "http://localhost:5000/")]
    [InlineData("127.0.0.1:5000", "http://127.0.0.1:5000/")]
    [InlineData("127.12.0.3:8080", "http://127.12.0.3:8080/")]
    [InlineData("[::1]:5000", "http://[::1]:5000/")]
    [InlineData("128.0.0.1:5000", "https://128.0.0.1:5000/")]
    [InlineData("localhost.example.com", "https://localhost.example.com/")]
    [InlineData("Insecure.Example:5000", "http://Insecure.Example:5000/")]
    public void BaseUri_uses_plain_http_only_for_loopback_and_configured_insecure_registries(string registry, string expected)
    {
        var client = Client(new RegistryEndpoint { Host = "insecure.example:5000", Insecure = true });
        Assert.Equal(new Uri(expected), client.BaseUri(registry));
    }

    [Fact]
    public async Task Configured_credentials_match_the_host_case_insensitively_and_docker_hub_by_any_alias()
    {
        var options = Options.Create(new RegistryOptions
        {
            Registries =
            [
                new RegistryEndpoint { Host = "Registry.Example:5000", Username = "alice", Password = "pw1" },
                new RegistryEndpoint { Host = "index.docker.io", Username = "bob", Password = "pw2" },
                new RegistryEndpoint { Host = "insecure.example", Insecure = true },
            ],
        });
        var provider = new ConfiguredRegistryCredentials(options);

        Assert.Equal(new RegistryCredentials("alice", "pw1"), await provider.GetAsync("registry.example:5000", TestContext.Current.CancellationToken));
        Assert.Equal(new RegistryCredentials("bob", "pw2"), await provider.GetAsync("docker.io", TestContext.Current.CancellationToken));
        Assert.Equal(new RegistryCredentials("bob", "pw2"), await provider.GetAsync("registry-1.docker.io", TestContext.Current.CancellationToken));
        Assert.Null(await provider.GetAsync("registry.example:5001", TestContext.Current.CancellationToken));
        Assert.Null(await provider.GetAsync("insecure.example", TestContext.Current.CancellationToken));
        Assert.DoesNotContain("pw1", new RegistryCredentials("alice", "pw1").ToString());
    }
}

public sealed class AuthChallengeTests
{
    [Fact]
    public void Bearer_challenge_with_quoted_commas_and_several_parameters()
    {
        var challenge = Assert.Single(AuthChallenge.Parse(
            ["Bearer realm=\"https://auth.example/token\",service=\"registry.example\",scope=\"repository:a/b:pull,push repository:c:pull\",error=\"insufficient_scope\""]));

        Assert.True(challenge.IsBearer);
        Assert.Equal("https://auth.example/token", challenge["realm"]);
        Assert.Equal("registry.example", challenge["service"]);
        Assert.Equal("repository:a/b:pull,push repository:c:pull", challenge["scope"]);
        Assert.Equal("insufficient_scope", challenge["ERROR"]);
    }

    [Fact]
    public void Several_challenges_in_one_header_with_spaces_escapes_and_unquoted_values()
    {
        var challenges = AuthChallenge.Parse(
            ["Negotiate abc==, Basic realm=\"say \\\"hi\\\", please\" , charset=UTF-8, bearer realm=https://t.example/x , service = svc"]);

        Assert.Equal(["Negotiate", "Basic", "bearer"], challenges.Select(c => c.Scheme));
        Assert.Empty(challenges[0].Parameters);
        Assert.Equal("say \"hi\", please", challenges[1]["realm"]);
        Assert.Equal("UTF-8", challenges[1]["charset"]);
        Assert.True(challenges[2].IsBearer);
        Assert.Equal("https://t.example/x", challenges[2]["realm"]);
        Assert.Equal("svc", challenges[2]["service"]);
    }

    [Fact]
    public void Challenges_from_separate_header_lines_and_a_bare_scheme()
    {
        var challenges = AuthChallenge.Parse(["Basic realm=\"r\"", "Bearer"]);

        Assert.Equal(["Basic", "Bearer"], challenges.Select(c => c.Scheme));
        Assert.Null(challenges[1]["realm"]);
        Assert.Empty(AuthChallenge.Parse([""]));
    }
}
