using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

using Wave.Core.Security;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Records;

namespace Wave.Tests.Contract;

/// <summary>
/// Platform tokens as nf-wave sends them (refreshed with <c>towerRefreshToken</c> when Platform refuses an expired one,
/// and as <c>Authorization: Bearer</c>), the one network policy for every fetch, records' privacy, and the pages for
/// people (<c>GET /</c>) and tools (the OpenAPI document).
/// </summary>
public sealed class IdentityAndPolicyTests(RegistryFixture registryFixture, WaveFixture waveFixture)
{
    private const string Stale = "stale-access-token";
    private const string Fresh = "fresh-access-token";
    private const string Refresh = "refresh-token-1";

    /// <summary>A Platform stand-in: /user-info refuses the stale token; /oauth/access_token renews it as Platform does, with cookies.</summary>
    private sealed class Platform : IAsyncDisposable
    {
        public required ScriptedHttpServer Server { get; init; }
        public int Refreshes;
        public string Endpoint => $"http://{Server.Host}/api";

        public static async Task<Platform> StartAsync()
        {
            Platform? platform = null;
            var server = await ScriptedHttpServer.StartAsync(async context =>
            {
                if (context.Request.Path == "/api/oauth/access_token" && context.Request.Method == "POST")
                {
                    var form = await context.Request.ReadFormAsync();
                    if (form["grant_type"] != "refresh_token" || form["refresh_token"] != Refresh)
                    {
                        context.Response.StatusCode = 400;
                        return;
                    }
                    Interlocked.Increment(ref platform!.Refreshes);
                    context.Response.Headers.Append("Set-Cookie", $"JWT={Fresh}; Path=/; HttpOnly");
                    context.Response.Headers.Append("Set-Cookie", "JWT_REFRESH_TOKEN=refresh-token-2; Path=/; HttpOnly");
                    return;
                }
                if (context.Request.Path == "/api/user-info" && context.Request.Headers.Authorization == $"Bearer {Fresh}")
                {
                    context.Response.ContentType = "application/json";
                    await context.Response.WriteAsync("""{"user":{"id":42,"userName":"dana","email":"dana@example.org"}}""");
                    return;
                }
                if (context.Request.Path == "/api/credentials")
                {
                    context.Response.ContentType = "application/json";
                    await context.Response.WriteAsync("""{"credentials":[]}""");
                    return;
                }
                context.Response.StatusCode = 401;
            });
            platform = new Platform { Server = server };
            return platform;
        }

        public ValueTask DisposeAsync() => Server.DisposeAsync();
    }

    [Fact]
    public async Task An_expired_platform_token_is_refreshed_once_and_the_stale_body_is_served_with_the_fresh_one()
    {
        var registries = await registryFixture.GetAsync();
        await using var platform = await Platform.StartAsync();
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Api, RecordsTestSupport.Settings(registries));
        var nf = new NfWaveClient(wave.Client, Stale);
        var request = new NfWaveRequest { ContainerImage = registries.Images.DockerV2, TowerEndpoint = platform.Endpoint, TowerRefreshToken = Refresh, WorkflowId = "wf-1" };

        var first = await nf.SendRequestAsync(request);
        // nf-wave resends the very same body (stale token and all) for its next container: served without a new refresh.
        var second = await nf.SendRequestAsync(request);

        Assert.Equal(1, platform.Refreshes);
        foreach (var answer in new[] { first, second })
        {
            var record = await wave.GetAsync($"/v1alpha2/container/{answer.Response.RequestId}");
            Assert.Equal(42, record.Body!["user"]!["id"]!.GetValue<long>());
            Assert.DoesNotContain(Stale, record.Text, StringComparison.Ordinal);
            Assert.DoesNotContain(Fresh, record.Text, StringComparison.Ordinal);
            Assert.DoesNotContain(Refresh, record.Text, StringComparison.Ordinal);
        }

        // Without a refresh token the expired token is what it is: a 401 naming it.
        var (status, body) = await new NfWaveClient(wave.Client).PostAsync(request with { TowerAccessToken = "another-stale-token", TowerRefreshToken = null });
        Assert.Equal(401, status);
        Assert.Equal("towerAccessToken", JsonNode.Parse(body)!["field"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_bearer_header_nf_wave_renewed_itself_is_accepted_beside_a_stale_body_token()
    {
        var registries = await registryFixture.GetAsync();
        await using var platform = await Platform.StartAsync();
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Api, RecordsTestSupport.Settings(registries));
        // The header carries the token nf-wave's HTTP client renewed; the body still has the one it was built with.
        var nf = new NfWaveClient(wave.Client, Fresh);
        var (status, body) = await nf.PostAsync(new NfWaveRequest { ContainerImage = registries.Images.DockerV2, TowerEndpoint = platform.Endpoint, TowerAccessToken = Stale });
        Assert.True(status == 200, body);
        Assert.Equal(0, platform.Refreshes);
    }

    /// <summary>The HttpClients Wave fetches with on a user's behalf.</summary>
    public static TheoryData<string> OutboundClients =>
    [
        Wave.Core.Registry.RegistryServiceCollectionExtensions.HttpClientName,
        Wave.Api.Identity.PlatformUserClient.HttpClientName,
        Wave.Builder.Worker.RemoteLayerFetcher.HttpClientName,
    ];

    [Theory]
    [MemberData(nameof(OutboundClients))]
    public async Task Every_outbound_client_refuses_a_metadata_address_when_it_connects_whatever_was_checked_before(string clientName)
    {
        var registries = await registryFixture.GetAsync();
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, new Dictionary<string, string?>());
        var client = wave.Services.GetRequiredService<IHttpClientFactory>().CreateClient(clientName);

        // What a name that rebinds to the metadata service after the request-time check would reach: refused at once
        // (169.254.169.254 does not answer here, so without the guard this would wait for the connect timeout).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("http://169.254.169.254/latest/meta-data/", TestContext.Current.CancellationToken));
        Assert.Contains("Wave does not connect to 169.254.169.254:80: it resolves to 169.254.169.254, a link-local or cloud metadata address", refused.ToString(), StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"refused after {clock.Elapsed}");
        Assert.True(Wave.Core.Security.OutboundAddressRefusedException.IsIn(refused), refused.ToString());

        // Names and addresses the policy leaves to the deployment still connect, by name and by address.
        var port = registries.Plain.Host[(registries.Plain.Host.LastIndexOf(':') + 1)..];
        foreach (var authority in new[] { registries.Plain.Host, $"localhost:{port}" })
        {
            using var answer = await client.GetAsync($"http://{authority}/v2/", TestContext.Current.CancellationToken);
            Assert.Equal(System.Net.HttpStatusCode.OK, answer.StatusCode);
        }
    }

    [Theory]
    [MemberData(nameof(OutboundClients))]
    public async Task In_a_deployment_every_outbound_client_holds_each_connection_to_the_whole_policy_and_trusts_configured_hosts_by_name(string clientName)
    {
        var registries = await registryFixture.GetAsync();
        var port = registries.Plain.Host[(registries.Plain.Host.LastIndexOf(':') + 1)..];
        var settings = new Dictionary<string, string?> { ["Wave:Security:AllowLoopback"] = "false", ["Wave:Registries:0:Host"] = registries.Plain.Host };
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, settings);
        var client = wave.Services.GetRequiredService<IHttpClientFactory>().CreateClient(clientName);
        var ct = TestContext.Current.CancellationToken;

        // The configured registry, by the name the operator wrote.
        using (var trusted = await client.GetAsync($"http://{registries.Plain.Host}/v2/", ct))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, trusted.StatusCode);
        }

        // The same server by another name is a loopback address this deployment does not reach: refused when
        // connecting (no request-time check ran here).
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync($"http://localhost:{port}/v2/", ct));
        Assert.Contains($"Wave does not connect to localhost:{port}: it resolves to ", refused.ToString(), StringComparison.Ordinal);
        Assert.Contains("a loopback address this deployment does not reach (Wave:Security:AllowLoopback, Wave:Security:AllowedNetworks)", refused.ToString(), StringComparison.Ordinal);

        // Allowing the network is what lets it through.
        settings["Wave:Security:AllowedNetworks:0"] = "127.0.0.0/8";
        settings["Wave:Security:AllowedNetworks:1"] = "::1/128";
        await using var allowed = await WaveTestHost.StartAsync(WaveRole.Embedded, settings);
        using var answer = await allowed.Services.GetRequiredService<IHttpClientFactory>().CreateClient(clientName).GetAsync($"http://localhost:{port}/v2/", ct);
        Assert.Equal(System.Net.HttpStatusCode.OK, answer.StatusCode);
    }

    [Fact]
    public async Task A_configured_registry_that_redirects_a_blob_to_a_host_the_deployment_does_not_reach_fails_naming_it_and_nothing_is_sent_there()
    {
        var blob = Encoding.UTF8.GetBytes("blob kept on a storage host");
        var digest = RegistryPusher.Sha256(blob);
        await using var storage = await ScriptedHttpServer.StartAsync(context => context.Response.Body.WriteAsync(blob).AsTask());
        await using var registry = await ScriptedHttpServer.StartAsync(context =>
        {
            context.Response.StatusCode = 307;
            context.Response.Headers.Location = $"http://{storage.Host}/storage/{digest}";
            return Task.CompletedTask;
        });
        var ct = TestContext.Current.CancellationToken;
        var settings = new Dictionary<string, string?> { ["Wave:Security:AllowLoopback"] = "false", ["Wave:Registries:0:Host"] = registry.Host };

        await using (var deployed = await WaveTestHost.StartAsync(WaveRole.Api, settings))
        {
            var client = deployed.Services.GetRequiredService<Wave.Core.Registry.RegistryClient>();
            var error = await Assert.ThrowsAsync<Wave.Core.Registry.RegistryException>(() => client.GetBlobBytesAsync(registry.Host, "team/app", digest, 1024, ct));
            Assert.Equal(Wave.Core.Registry.RegistryErrorKind.Unreachable, error.Kind);
            Assert.Contains($"Wave does not connect to 127.0.0.1:{storage.Port}: it resolves to 127.0.0.1, a loopback address this deployment does not reach", error.Message, StringComparison.Ordinal);
            Assert.Empty(storage.Received);
        }

        // The operator names the storage host: it is reached.
        settings["Wave:Security:TrustedHosts:0"] = storage.Host;
        await using var trusting = await WaveTestHost.StartAsync(WaveRole.Api, settings);
        Assert.Equal(blob, await trusting.Services.GetRequiredService<Wave.Core.Registry.RegistryClient>().GetBlobBytesAsync(registry.Host, "team/app", digest, 1024, ct));
        Assert.Single(storage.Received);
    }

    [Fact]
    public async Task One_policy_for_every_fetch_reaches_loopback_in_the_embedded_run_and_refuses_it_in_a_deployment()
    {
        var registries = await registryFixture.GetAsync();
        var loginRequest = new { userName = registries.Basic.Credentials!.Username, password = registries.Basic.Credentials.Password, registry = registries.Basic.Host };

        // In-process state (the developer's embedded run): loopback registries work for every endpoint alike.
        await using (var embedded = await WaveTestHost.StartAsync(WaveRole.Embedded, new Dictionary<string, string?>()))
        {
            var container = await embedded.Client.PostContainerAsync(new { containerImage = registries.Images.DockerV2 });
            Assert.True(container.Status == 200, container.Text);
            var login = await embedded.Client.PostJsonAsync("/v1alpha2/validate-creds", loginRequest);
            Assert.True(login.Status == 200, login.Text);
            Assert.Equal("true", login.Text);
            var inspect = await embedded.Client.PostJsonAsync("/v1alpha1/inspect", new { containerImage = registries.Images.DockerV2 });
            Assert.True(inspect.Status == 200, inspect.Text);
        }

        // A deployment (here said explicitly; a service with Redis gets it by default): loopback is refused everywhere.
        await using (var deployed = await WaveTestHost.StartAsync(WaveRole.Api, new Dictionary<string, string?> { ["Wave:Security:AllowLoopback"] = "false" }))
        {
            foreach (var (path, body, field) in new (string, object, string)[]
            {
                ("/v1alpha2/container", new { containerImage = registries.Images.DockerV2 }, "containerImage"),
                ("/v1alpha2/validate-creds", loginRequest, "registry"),
                ("/v1alpha1/inspect", new { containerImage = registries.Images.DockerV2 }, "containerImage"),
                ("/v1alpha2/container", new { containerImage = "docker.io/library/busybox:latest", towerAccessToken = "t", towerEndpoint = "http://127.0.0.1:9/api" }, "towerEndpoint"),
            })
            {
                var answer = await deployed.Client.PostJsonAsync(path, body);
                Assert.True(answer.Status == 400, $"{path}: {answer.Status} {answer.Text}");
                Assert.Equal(field, answer.Field);
                Assert.Contains("a loopback address this deployment does not reach (Wave:Security:AllowLoopback, Wave:Security:AllowedNetworks)", answer.Message, StringComparison.Ordinal);
            }
        }

        // ...unless the operator allowed the network (or configured the registry itself, see the policy's own test).
        await using var allowed = await WaveTestHost.StartAsync(WaveRole.Api, new Dictionary<string, string?>
        {
            ["Wave:Security:AllowLoopback"] = "false",
            ["Wave:Security:AllowedNetworks:0"] = "127.0.0.0/8",
        });
        Assert.Equal(200, (await allowed.Client.PostContainerAsync(new { containerImage = registries.Images.DockerV2 })).Status);
    }

    [Fact]
    public async Task The_policy_refuses_metadata_and_private_ranges_and_trusts_configured_hosts()
    {
        var deployed = new NetworkTargetPolicy(Options.Create(new NetworkTargetOptions { AllowLoopback = false, TrustedHosts = ["registry.internal:5000"] }));
        var ct = TestContext.Current.CancellationToken;
        Assert.Contains("link-local or cloud metadata", await deployed.CheckAsync(new Uri("http://169.254.169.254/latest"), ct), StringComparison.Ordinal);
        Assert.Contains("Wave:Security:AllowedNetworks", await deployed.CheckAsync(new Uri("https://10.1.2.3:5000/"), ct), StringComparison.Ordinal);
        Assert.Contains("loopback", await deployed.CheckAsync(new Uri("http://localhost:5000/"), ct), StringComparison.Ordinal);
        Assert.Contains("loopback", await deployed.CheckAsync(new Uri("http://[::1]:5000/"), ct), StringComparison.Ordinal);
        Assert.Null(await deployed.CheckAsync(new Uri("https://registry.internal:5000/v2/"), ct));
        // Trust is for the configured host and port only.
        Assert.NotNull(await deployed.CheckAsync(new Uri("https://registry.internal:6000/v2/"), ct));

        var embedded = new NetworkTargetPolicy(Options.Create(new NetworkTargetOptions { AllowLoopback = true, AllowedNetworks = ["10.0.0.0/8"] }));
        Assert.Null(await embedded.CheckAsync(new Uri("http://127.0.0.1:5000/"), ct));
        Assert.Null(await embedded.CheckAsync(new Uri("http://10.9.9.9/"), ct));
        Assert.NotNull(await embedded.CheckAsync(new Uri("http://192.168.1.1/"), ct));
        Assert.NotNull(await embedded.CheckAsync(new Uri("http://169.254.169.254/"), ct));
    }

    [Fact]
    public async Task A_record_shows_the_user_id_to_everyone_and_name_and_email_only_to_an_admin()
    {
        var registries = await registryFixture.GetAsync();
        const string key = "api-key-of-erin";
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, RecordsTestSupport.Settings(registries, new()
        {
            ["Wave:Identity:ApiKeys:0:KeySha256"] = hash,
            ["Wave:Identity:ApiKeys:0:UserName"] = "erin",
            ["Wave:Identity:ApiKeys:0:Email"] = "erin@example.org",
        }));
        using var post = new HttpRequestMessage(HttpMethod.Post, "/v1alpha2/container") { Content = JsonContent(new { containerImage = registries.Images.DockerV2 }) };
        post.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var posted = await wave.Client.SendAsync(post, TestContext.Current.CancellationToken);
        var requestId = JsonNode.Parse(await posted.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!["requestId"]!.GetValue<string>();

        foreach (var path in new[] { $"/v1alpha2/container/{requestId}", $"/container-token/{requestId}" })
        {
            var anyone = await wave.GetAsync(path);
            Assert.True(anyone.Status == 200, anyone.Text);
            Assert.DoesNotContain("erin@example.org", anyone.Text, StringComparison.Ordinal);
            Assert.DoesNotContain("userName", anyone.Text, StringComparison.Ordinal);
            Assert.Contains("\"id\":\"apikey:erin\"", anyone.Text, StringComparison.Ordinal);

            using var asAdmin = new HttpRequestMessage(HttpMethod.Get, path);
            asAdmin.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"admin:{RecordsTestSupport.AdminPassword}")));
            using var adminAnswer = await wave.Client.SendAsync(asAdmin, TestContext.Current.CancellationToken);
            Assert.Contains("erin@example.org", await adminAnswer.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        }
        var record = (await wave.GetAsync($"/v1alpha2/container/{requestId}")).Body!;
        Assert.Equal(requestId, record["id"]!.GetValue<string>());
        Assert.Equal(registries.Images.DockerV2, record["containerImage"]!.GetValue<string>());
        Assert.False(record["mirror"]!.GetValue<bool>());
        Assert.Null(record["buildId"]);
    }

    [Fact]
    public async Task A_build_record_shows_the_user_id_to_everyone_and_name_and_email_only_to_an_admin()
    {
        var registries = await registryFixture.GetAsync();
        const string key = "api-key-of-frank";
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        var settings = Builds.EndToEnd.BuildHostFixture.Settings(registries, Directory.CreateTempSubdirectory("wave-build-privacy-").FullName);
        foreach (var (name, value) in RecordsTestSupport.Settings(registries, new()
        {
            ["Wave:Identity:ApiKeys:0:KeySha256"] = hash,
            ["Wave:Identity:ApiKeys:0:UserName"] = "frank",
            ["Wave:Identity:ApiKeys:0:Email"] = "frank@example.org",
        }))
        {
            settings[name] = value;
        }
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, settings);
        var dockerfile = Builds.EndToEnd.BuildApi.Base64($"FROM {registries.Images.DockerV2}\n{Builds.EndToEnd.BuildApi.Nonce()}");
        using var post = new HttpRequestMessage(HttpMethod.Post, "/v1alpha2/container") { Content = JsonContent(new { containerFile = dockerfile }) };
        post.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var posted = await wave.Client.SendAsync(post, TestContext.Current.CancellationToken);
        var answer = await posted.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(posted.IsSuccessStatusCode, answer);
        var buildId = JsonNode.Parse(answer)!["buildId"]!.GetValue<string>();
        await Builds.EndToEnd.BuildApi.WaitCompletedAsync(wave.Client, buildId, TimeSpan.FromMinutes(3));

        var anyone = await wave.GetAsync($"/v1alpha1/builds/{buildId}");
        Assert.True(anyone.Status == 200, anyone.Text);
        Assert.Equal("apikey:frank", anyone.Body!["userId"]!.GetValue<string>());
        Assert.Null(anyone.Body["userName"]);
        Assert.DoesNotContain("frank@example.org", anyone.Text, StringComparison.Ordinal);

        using var asAdmin = new HttpRequestMessage(HttpMethod.Get, $"/v1alpha1/builds/{buildId}");
        asAdmin.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"admin:{RecordsTestSupport.AdminPassword}")));
        using var adminAnswer = await wave.Client.SendAsync(asAdmin, TestContext.Current.CancellationToken);
        var admin = JsonNode.Parse(await adminAnswer.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!;
        Assert.Equal(("apikey:frank", "frank", "frank@example.org"),
            (admin["userId"]!.GetValue<string>(), admin["userName"]!.GetValue<string>(), admin["userEmail"]!.GetValue<string>()));
    }

    [Fact]
    public async Task The_root_is_a_page_for_people_and_the_API_is_described_by_an_OpenAPI_document()
    {
        var registries = await registryFixture.GetAsync();
        var wave = await waveFixture.GetEmbeddedAsync(registries);
        using var root = await wave.Client.GetAsync("/", TestContext.Current.CancellationToken);
        Assert.Equal("text/html", root.Content.Headers.ContentType?.MediaType);
        var html = await root.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Contains("href=\"/openapi/wave.json\"", html, StringComparison.Ordinal);
        Assert.Contains("href=\"/service-info\"", html, StringComparison.Ordinal);

        var document = JsonNode.Parse(await wave.Client.GetStringAsync("/openapi/wave.json", TestContext.Current.CancellationToken))!;
        Assert.StartsWith("3.", document["openapi"]!.GetValue<string>(), StringComparison.Ordinal);
        var paths = document["paths"]!.AsObject().Select(p => p.Key).ToList();
        foreach (var expected in new[] { "/v1alpha2/container", "/v1alpha2/container/{requestId}", "/v1alpha2/container/{requestId}/status",
            "/container-token", "/v1alpha1/inspect", "/v1alpha1/builds/{buildId}/status", "/service-info" })
        {
            Assert.Contains(expected, paths);
        }
    }

    private static StringContent JsonContent(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
}
