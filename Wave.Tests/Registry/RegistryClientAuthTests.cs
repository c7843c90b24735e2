using Microsoft.Extensions.DependencyInjection;

using Wave.Core.Registry;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Registry;

/// <summary>Basic (htpasswd) and Bearer (token service) logins against real distribution registries.</summary>
public sealed class RegistryClientAuthTests(RegistryFixture fixture)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Basic_registry_serves_with_credentials()
    {
        var registries = await fixture.GetAsync();
        var (registry, repository, tag) = TestClients.Split(registries.Images.BasicPrivate);
        var (client, wire) = TestClients.ForFixture(registries);

        var manifest = await client.GetManifestAsync(registry, repository, tag, Cancel);
        var again = await client.HeadManifestAsync(registry, repository, tag, Cancel);

        Assert.Equal(await TestClients.SkopeoDigestAsync(registries.Images.BasicPrivate, registries.Basic.Credentials), manifest.Digest);
        Assert.Equal(manifest.Digest, again.Digest);
        // Anonymous probe, then Basic; once Basic is known to work the next request sends it straight away.
        Assert.Equal([null, "Basic", "Basic"], wire.Requests.Select(r => r.Authorization));
    }

    [Fact]
    public async Task Basic_registry_refuses_anonymous_and_wrong_credentials_without_showing_the_password()
    {
        var registries = await fixture.GetAsync();
        var (registry, repository, tag) = TestClients.Split(registries.Images.BasicPrivate);
        var (anonymous, _) = TestClients.Create();
        var (wrong, _) = TestClients.Create([TestClients.Login(registry, new RegistryCredentials("wave-basic", "wrong-pass-123"))]);

        var without = await Assert.ThrowsAsync<RegistryException>(() => anonymous.GetManifestAsync(registry, repository, tag, Cancel));
        var withWrong = await Assert.ThrowsAsync<RegistryException>(() => wrong.GetManifestAsync(registry, repository, tag, Cancel));

        Assert.Equal(RegistryErrorKind.Unauthorized, without.Kind);
        Assert.Contains("without credentials", without.Message);
        Assert.Equal(RegistryErrorKind.Unauthorized, withWrong.Kind);
        Assert.Contains("with the configured credentials", withWrong.Message);
        Assert.Contains(registry, withWrong.Message);
        Assert.DoesNotContain("wrong-pass-123", withWrong.ToString());
    }

    [Fact]
    public async Task Bearer_registry_serves_with_a_token_that_is_reused_for_the_same_scope()
    {
        var registries = await fixture.GetAsync();
        var (registry, repository, tag) = TestClients.Split(registries.Images.BearerPrivate);
        var (client, wire) = TestClients.ForFixture(registries);
        var realm = new Uri(fixture.TokenService!.Realm);

        var manifest = await client.GetManifestAsync(registry, repository, tag, Cancel);
        var head = await client.HeadManifestAsync(registry, repository, tag, Cancel);
        var config = await client.GetBlobBytesAsync(registry, repository, TestClients.Field(manifest.Content, "config", "digest"), 1024 * 1024, Cancel);

        Assert.Equal(await TestClients.SkopeoDigestAsync(registries.Images.BearerPrivate, registries.Bearer.Credentials), manifest.Digest);
        Assert.Equal(manifest.Digest, head.Digest);
        Assert.Equal("amd64", TestClients.Field(config, "architecture"));
        var tokenRequests = wire.Requests.Where(r => r.Uri.Authority == realm.Authority).ToList();
        Assert.Single(tokenRequests);
        Assert.Equal("Basic", tokenRequests[0].Authorization);
        Assert.All(wire.Requests.Where(r => r.Uri.Authority == registry).Skip(1), r => Assert.Equal("Bearer", r.Authorization));
    }

    [Fact]
    public async Task Bearer_registry_refuses_anonymous_and_wrong_credentials()
    {
        var registries = await fixture.GetAsync();
        var (registry, repository, tag) = TestClients.Split(registries.Images.BearerPrivate);
        var (anonymous, _) = TestClients.Create();
        var (wrong, _) = TestClients.Create([TestClients.Login(registry, new RegistryCredentials("wave-bearer", "not-the-pw-456"))]);

        var without = await Assert.ThrowsAsync<RegistryException>(() => anonymous.GetManifestAsync(registry, repository, tag, Cancel));
        var withWrong = await Assert.ThrowsAsync<RegistryException>(() => wrong.GetManifestAsync(registry, repository, tag, Cancel));

        Assert.Equal(RegistryErrorKind.Unauthorized, without.Kind);
        Assert.Equal(RegistryErrorKind.Unauthorized, withWrong.Kind);
        Assert.Contains(registry, withWrong.Message);
        Assert.DoesNotContain("not-the-pw-456", withWrong.ToString());
    }

    [Fact]
    public async Task ValidateCredentials_logs_in_for_real_on_Basic_and_Bearer_registries()
    {
        var registries = await fixture.GetAsync();
        var (client, _) = TestClients.Create();

        Assert.True(await client.ValidateCredentialsAsync(registries.Basic.Host, registries.Basic.Credentials!, Cancel));
        Assert.False(await client.ValidateCredentialsAsync(registries.Basic.Host, new RegistryCredentials("wave-basic", "nope"), Cancel));
        Assert.False(await client.ValidateCredentialsAsync(registries.Basic.Host, new RegistryCredentials("someone-else", registries.Basic.Credentials!.Password), Cancel));
        Assert.True(await client.ValidateCredentialsAsync(registries.Bearer.Host, registries.Bearer.Credentials!, Cancel));
        Assert.False(await client.ValidateCredentialsAsync(registries.Bearer.Host, new RegistryCredentials("wave-bearer", "nope"), Cancel));
        Assert.True(await client.ValidateCredentialsAsync(registries.Plain.Host, new RegistryCredentials("anyone", "anything"), Cancel));
    }

    [Fact]
    public async Task The_client_registered_for_DI_pulls_with_configured_credentials()
    {
        var registries = await fixture.GetAsync();
        var services = new ServiceCollection();
        services.AddRegistryClient();
        services.Configure<RegistryOptions>(o =>
            o.Registries.Add(TestClients.Login(registries.Bearer.Host, registries.Bearer.Credentials!)));
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<RegistryClient>();
        var (registry, repository, tag) = TestClients.Split(registries.Images.BearerPrivate);

        var manifest = await client.GetManifestAsync(registry, repository, tag, Cancel);

        Assert.Equal(await TestClients.SkopeoDigestAsync(registries.Images.BearerPrivate, registries.Bearer.Credentials), manifest.Digest);
    }
}
