using Wave.Core.Registry;
using Wave.Tests.Infrastructure;

[assembly: AssemblyFixture(typeof(RegistryFixture))]

namespace Wave.Tests.Infrastructure;

public sealed record TestRegistries(RegistryServer Plain, RegistryServer Basic, RegistryServer Bearer, BaseImages Images);

/// <summary>Image references (<c>host:port/repo:tag</c>) of the base images the fixture pushed.</summary>
/// <param name="DockerV2">busybox as a Docker v2 schema 2 manifest in the plain registry.</param>
/// <param name="Oci">the same image as an OCI manifest in the plain registry.</param>
/// <param name="MultiArch">an OCI index of linux/amd64 and linux/arm64 in the plain registry.</param>
/// <param name="BasicPrivate">a Docker v2 image in the Basic-auth registry.</param>
/// <param name="BearerPrivate">a Docker v2 image in the token-auth registry.</param>
public sealed record BaseImages(string DockerV2, string Oci, string MultiArch, string BasicPrivate, string BearerPrivate);

/// <summary>
/// Three registries for the whole test run — open, Basic (htpasswd) and Bearer (token service) — with busybox base
/// images made offline. Started on first use, so tests that do not need them do not pay for (or fail on) them.
/// </summary>
public sealed class RegistryFixture : IAsyncDisposable
{
    public static readonly RegistryCredentials BasicUser = new("wave-basic", "basic-s3cret-pw");
    public static readonly RegistryCredentials BearerUser = new("wave-bearer", "bearer-s3cret-pw");

    private readonly Lazy<Task<TestRegistries>> _registries;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "wave-registries-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly List<IAsyncDisposable> _servers = [];

    public RegistryFixture() => _registries = new(StartAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The token service of <see cref="TestRegistries.Bearer"/> (available once <see cref="GetAsync"/> completed).</summary>
    public TokenServer? TokenService { get; private set; }

    public Task<TestRegistries> GetAsync() => _registries.Value;

    private async Task<TestRegistries> StartAsync()
    {
        Requirements.Binary("docker-registry", "docker-registry");
        var htpasswd = Requirements.Binary("htpasswd", "apache2-utils");

        var plain = await Track(RegistryServer.StartNewAsync(Path.Combine(_root, "plain"), null, null));

        var basicDir = Path.Combine(_root, "basic");
        Directory.CreateDirectory(basicDir);
        var htpasswdFile = Path.Combine(basicDir, "htpasswd");
        // -B: bcrypt, the only hash format distribution accepts; -C 4 keeps hashing (done on every request) cheap.
        var line = await TestProcess.RunAsync(htpasswd, ["-Bbn", "-C", "4", BasicUser.Username, BasicUser.Password]);
        await File.WriteAllTextAsync(htpasswdFile, line.Trim() + "\n");
        var basic = await Track(RegistryServer.StartNewAsync(basicDir, $"""
            auth:
              htpasswd:
                realm: wave-test-basic
                path: {htpasswdFile}
            """, BasicUser));

        var tokens = await TokenServer.StartAsync(BearerUser);
        _servers.Add(tokens);
        TokenService = tokens;
        var bearerDir = Path.Combine(_root, "bearer");
        Directory.CreateDirectory(bearerDir);
        var bundle = Path.Combine(bearerDir, "token.crt");
        await File.WriteAllTextAsync(bundle, tokens.CertificatePem);
        var bearer = await Track(RegistryServer.StartNewAsync(bearerDir, $"""
            auth:
              token:
                realm: {tokens.Realm}
                service: {TokenServer.Service}
                issuer: {TokenServer.Issuer}
                rootcertbundle: {bundle}
            """, BearerUser));

        var images = await BaseImageBuilder.BuildAndPushAsync(Path.Combine(_root, "buildah"), plain, basic, bearer);
        return new TestRegistries(plain, basic, bearer, images);
    }

    private async Task<RegistryServer> Track(Task<RegistryServer> starting)
    {
        var server = await starting;
        _servers.Add(server);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
