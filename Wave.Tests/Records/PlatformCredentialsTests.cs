using System.Text.Json;

using Microsoft.AspNetCore.Http;

using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Records;

/// <summary>
/// A private registry pulled through Wave with a login that comes only from a Seqera-Platform-compatible server: Wave
/// itself has no credentials for it. The server checks every call it receives (path, bearer token, workspace).
/// </summary>
public sealed class PlatformCredentialsTests(RegistryFixture registryFixture)
{
    private const string Token = "platform-token-of-carol";
    private const string TokenWithoutCredentials = "platform-token-without-credential-access";
    private const long Workspace = 7;

    private sealed record PlatformServer(ScriptedHttpServer Server, string Endpoint, List<string> Problems);

    /// <summary>Answers /user-info, /credentials and /credentials/{id}/keys like Platform, and records any request that is not as expected.</summary>
    private static async Task<PlatformServer> StartPlatformAsync(RegistryServer registry)
    {
        var problems = new List<string>();
        var server = await ScriptedHttpServer.StartAsync(async context =>
        {
            var bearer = context.Request.Headers.Authorization.ToString();
            var path = context.Request.Path.Value;
            object? answer = null;
            if (bearer != $"Bearer {Token}" && bearer != $"Bearer {TokenWithoutCredentials}")
            {
                context.Response.StatusCode = 401;
                return;
            }
            if (path == "/api/user-info")
            {
                answer = new { user = new { id = 1001, userName = "carol", email = "carol@example.org" } };
            }
            else if (bearer != $"Bearer {Token}")
            {
                context.Response.StatusCode = 403;
                return;
            }
            else if (context.Request.Query["workspaceId"] != Workspace.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                lock (problems)
                {
                    problems.Add($"{path}{context.Request.QueryString} without workspaceId={Workspace}");
                }
                context.Response.StatusCode = 404;
                return;
            }
            else if (path == "/api/credentials")
            {
                answer = new
                {
                    credentials = new object[]
                    {
                        new { id = "aws-1", name = "aws", provider = "aws", keys = new { accessKey = "AKIA" } },
                        new { id = "cr-quay", name = "quay", provider = "container-reg", keys = new { registry = "quay.io" } },
                        new { id = "cr-private", name = "private", provider = "container-reg", keys = new { registry = registry.Host } },
                    },
                };
            }
            else if (path == "/api/credentials/cr-private/keys")
            {
                answer = new { keys = new { userName = registry.Credentials!.Username, password = registry.Credentials.Password, registry = registry.Host } };
            }
            else
            {
                lock (problems)
                {
                    problems.Add($"unexpected {context.Request.Method} {path}");
                }
                context.Response.StatusCode = 404;
                return;
            }
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(JsonSerializer.Serialize(answer));
        });
        return new PlatformServer(server, $"http://{server.Host}/api", problems);
    }

    /// <summary>Loopback allowed for towerEndpoint; no Wave:Registries entry: Wave has no login for the private registry.</summary>
    private static Dictionary<string, string?> Settings() => new() { ["Wave:Security:AllowedNetworks:0"] = "127.0.0.0/8" };

    [Fact]
    public async Task A_private_image_is_resolved_and_pulled_with_the_login_kept_on_Platform()
    {
        var registries = await registryFixture.GetAsync();
        var platform = await StartPlatformAsync(registries.Basic);
        await using var _ = platform.Server;
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, Settings());

        var anonymous = await wave.Client.PostContainerAsync(new { containerImage = registries.Images.BasicPrivate });
        Assert.True(anonymous.Status == 400, $"Wave must not have its own login for {registries.Basic.Host}: {anonymous.Text}");

        var answer = await wave.Client.PostContainerAsync(new
        {
            containerImage = registries.Images.BasicPrivate,
            towerAccessToken = Token,
            towerEndpoint = platform.Endpoint,
            towerWorkspaceId = Workspace,
        });
        Assert.True(answer.Status == 200, answer.Text);
        Assert.Empty(platform.Problems);
        var received = platform.Server.Received;
        Assert.Contains(received, r => r.PathAndQuery == $"/api/credentials?workspaceId={Workspace}" && r.Header("Authorization") == $"Bearer {Token}");
        Assert.Contains(received, r => r.PathAndQuery == $"/api/credentials/cr-private/keys?workspaceId={Workspace}" && r.Header("Authorization") == $"Bearer {Token}");
        var platformCalls = received.Count;

        // The proxy pulls with the login sealed in the request: skopeo copies every blob through Wave (the upstream is
        // private, so Wave streams them with the login) without Wave asking Platform again.
        await RecordsTestSupport.SkopeoAsync("inspect", "--tls-verify=false", $"docker://{answer.TargetImage}");
        var copy = Directory.CreateTempSubdirectory("wave-platform-pull-");
        await RecordsTestSupport.SkopeoAsync("copy", "--src-tls-verify=false", $"docker://{answer.TargetImage}", $"dir:{copy.FullName}");
        Assert.True(File.Exists(Path.Combine(copy.FullName, "manifest.json")));
        Assert.Equal(platformCalls, platform.Server.Received.Count);

        var described = await wave.GetAsync($"/container-token/{answer.Token}");
        Assert.True(described.Status == 200, described.Text);
        var request = described.Body!["request"]!;
        Assert.Equal("platform", request["credentialsSource"]!.GetValue<string>());
        // Anyone holding the token sees who asked by id only: no user name, no email (they are for admins).
        Assert.Equal(1001, request["user"]!["id"]!.GetValue<long>());
        Assert.Null(request["user"]!["userName"]);
        Assert.DoesNotContain("carol", described.Text, StringComparison.Ordinal);
        Assert.Equal(Workspace, request["workspaceId"]!.GetValue<long>());
        Assert.Equal(platform.Endpoint, request["towerEndpoint"]!.GetValue<string>());
        foreach (var secret in new[] { Token, registries.Basic.Credentials!.Password })
        {
            Assert.DoesNotContain(secret, described.Text, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, answer.Text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_refused_token_is_a_401_and_an_unreachable_endpoint_a_502_naming_it()
    {
        var registries = await registryFixture.GetAsync();
        var platform = await StartPlatformAsync(registries.Basic);
        await using var _ = platform.Server;
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, Settings());

        var wrong = await wave.Client.PostContainerAsync(new { containerImage = registries.Images.BasicPrivate, towerAccessToken = "not-a-platform-token", towerEndpoint = platform.Endpoint });
        Assert.Equal(401, wrong.Status);
        Assert.Equal("towerAccessToken", wrong.Field);

        // Known user, but Platform refuses its credentials: still a 401, saying where it was refused.
        var noAccess = await wave.Client.PostContainerAsync(new
        {
            containerImage = registries.Images.BasicPrivate,
            towerAccessToken = TokenWithoutCredentials,
            towerEndpoint = platform.Endpoint,
            towerWorkspaceId = Workspace,
        });
        Assert.Equal(401, noAccess.Status);
        Assert.Contains("registry credentials", noAccess.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(TokenWithoutCredentials, noAccess.Text, StringComparison.Ordinal);

        var closed = $"http://127.0.0.1:{FreePort.Next()}/api";
        var unreachable = await wave.Client.PostContainerAsync(new { containerImage = registries.Images.BasicPrivate, towerAccessToken = Token, towerEndpoint = closed });
        Assert.Equal(502, unreachable.Status);
        Assert.Contains(closed[..closed.LastIndexOf('/')], unreachable.Message, StringComparison.Ordinal);
        Assert.Equal("towerEndpoint", unreachable.Field);
    }
}
