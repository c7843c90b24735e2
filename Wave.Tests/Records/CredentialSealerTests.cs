using Microsoft.Extensions.Options;

using Wave.Core.Augmentation;
using Wave.Core.Registry;
using Wave.Core.Requests;
using Wave.Core.Security;
using Wave.Core.State;

namespace Wave.Tests.Records;

public sealed class CredentialSealerTests
{
    private static readonly RegistryCredentials Login = new("carol", "s3cret-registry-pw");

    private static CredentialSealer Sealer(IKeyValueStore state, string? key = null) =>
        new(state, Options.Create(new CredentialSealerOptions { CredentialsKey = key }));

    [Fact]
    public async Task Sealed_credentials_open_for_their_token_and_registry_only()
    {
        var state = new InMemoryKeyValueStore(TimeProvider.System);
        var sealer = Sealer(state);
        var token = ContainerTokens.New();
        var sealedLogin = await sealer.SealAsync(token, "registry.example.com", Login, TestContext.Current.CancellationToken);

        Assert.DoesNotContain(Login.Password, sealedLogin.Data, StringComparison.Ordinal);
        Assert.DoesNotContain(Login.Password, System.Text.Json.JsonSerializer.Serialize(sealedLogin), StringComparison.Ordinal);
        Assert.DoesNotContain("data", sealedLogin.ToString(), StringComparison.OrdinalIgnoreCase);
        // Another process on the same state (the proxy) opens it with the shared key.
        Assert.Equal(Login, await Sealer(state).OpenAsync(token, sealedLogin, TestContext.Current.CancellationToken));
        Assert.Null(await sealer.OpenAsync(ContainerTokens.New(), sealedLogin, TestContext.Current.CancellationToken));
        Assert.Null(await sealer.OpenAsync(token, sealedLogin with { Registry = "other.example.com" }, TestContext.Current.CancellationToken));
        Assert.Null(await Sealer(new InMemoryKeyValueStore(TimeProvider.System)).OpenAsync(token, sealedLogin, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_configured_key_is_used_and_checked()
    {
        var key = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var token = ContainerTokens.New();
        var sealedLogin = await Sealer(new InMemoryKeyValueStore(TimeProvider.System), key).SealAsync(token, "r.example.com", Login, TestContext.Current.CancellationToken);
        Assert.Equal(Login, await Sealer(new InMemoryKeyValueStore(TimeProvider.System), key).OpenAsync(token, sealedLogin, TestContext.Current.CancellationToken));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Sealer(new InMemoryKeyValueStore(TimeProvider.System), "c2hvcnQ=").SealAsync(token, "r.example.com", Login, TestContext.Current.CancellationToken));
        Assert.Contains("Wave:Security:CredentialsKey", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Records_keep_no_layer_data_nor_url_secrets()
    {
        var config = new ContainerConfig
        {
            Layers =
            [
                new ContainerLayer { Location = "data:H4sIAAAA", GzipDigest = "sha256:1", GzipSize = 3 },
                new ContainerLayer { Location = "https://user:pw@cdn.example.com/a/l.tgz?sig=abc#x", GzipDigest = "sha256:2" },
            ],
        };
        var redacted = ContainerRecords.Redact(config)!;
        Assert.Equal("data:", redacted.Layers![0].Location);
        Assert.Equal("sha256:1", redacted.Layers[0].GzipDigest);
        Assert.Equal("https://cdn.example.com/a/l.tgz", redacted.Layers[1].Location);
    }
}
