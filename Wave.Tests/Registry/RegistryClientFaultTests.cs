using System.Net;
using System.Text;

using Microsoft.AspNetCore.Http;

using Wave.Core.Manifests;
using Wave.Core.Registry;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Registry;

/// <summary>
/// Registries that are down, slow, flaky, redirect elsewhere or answer nonsense. A stopped distribution registry for
/// the first; scripted HTTP servers for behaviour the real registry cannot be made to show.
/// </summary>
public sealed class RegistryClientFaultTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;
    private const string Digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    [Fact]
    public async Task A_stopped_registry_is_Unreachable_naming_host_and_port_but_not_the_password_and_serves_again_after_restart()
    {
        var directory = Path.Combine(Path.GetTempPath(), "wave-stopped-registry-" + Guid.NewGuid().ToString("N")[..8]);
        await using var server = await RegistryServer.StartNewAsync(directory, null, null);
        try
        {
            var (client, _) = TestClients.Create([TestClients.Login(server.Host, new RegistryCredentials("user", "secret-pw-789"))]);
            await client.PingAsync(server.Host, Cancel);

            await server.StopAsync();
            var down = await Assert.ThrowsAsync<RegistryException>(() => client.GetManifestAsync(server.Host, "any/repo", "latest", Cancel));

            Assert.Equal(RegistryErrorKind.Unreachable, down.Kind);
            Assert.StartsWith($"registry {server.Host} is unreachable: ", down.Message);
            Assert.DoesNotContain("secret-pw-789", down.ToString());

            await server.StartAsync();
            await client.PingAsync(server.Host, Cancel);
        }
        finally
        {
            await server.StopAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task A_blob_redirect_to_another_host_is_returned_and_followed_without_Authorization()
    {
        var blob = Encoding.UTF8.GetBytes("blob content served by the storage host");
        var digest = RegistryPusher.Sha256(blob);
        await using var storage = await ScriptedHttpServer.StartAsync(context => context.Response.Body.WriteAsync(blob).AsTask());
        await using var registry = await ScriptedHttpServer.StartAsync(context =>
        {
            if (context.Request.Headers.Authorization.Count == 0)
            {
                context.Response.StatusCode = 401;
                context.Response.Headers.WWWAuthenticate = "Basic realm=\"scripted\"";
                return Task.CompletedTask;
            }
            context.Response.StatusCode = 307;
            context.Response.Headers.Location = $"http://{storage.Host}/storage/{digest}?signature=abc";
            return Task.CompletedTask;
        });
        var (client, _) = TestClients.Create([TestClients.Login(registry.Host, new RegistryCredentials("u", "p"))]);

        using (var redirect = await client.GetBlobAsync(registry.Host, "team/app", digest, headOnly: false, Cancel))
        {
            Assert.Null(redirect.Response);
            Assert.Equal(new Uri($"http://{storage.Host}/storage/{digest}?signature=abc"), redirect.RedirectTo);
        }
        Assert.Empty(storage.Received);

        var bytes = await client.GetBlobBytesAsync(registry.Host, "team/app", digest, 1024, Cancel);

        Assert.Equal(blob, bytes);
        var atStorage = Assert.Single(storage.Received);
        Assert.Equal($"/storage/{digest}?signature=abc", atStorage.PathAndQuery);
        Assert.Null(atStorage.Header("Authorization"));
        Assert.All(registry.Received.Skip(1), r => Assert.StartsWith("Basic ", r.Header("Authorization")));
    }

    [Fact]
    public async Task A_redirect_on_the_same_host_is_followed_with_Authorization()
    {
        var blob = Encoding.UTF8.GetBytes("same-host blob");
        var digest = RegistryPusher.Sha256(blob);
        await using var registry = await ScriptedHttpServer.StartAsync(async context =>
        {
            if (context.Request.Headers.Authorization.Count == 0)
            {
                context.Response.StatusCode = 401;
                context.Response.Headers.WWWAuthenticate = "Basic realm=\"scripted\"";
            }
            else if (context.Request.Path.StartsWithSegments("/v2"))
            {
                context.Response.StatusCode = 302;
                context.Response.Headers.Location = $"/internal/{digest}";
            }
            else
            {
                await context.Response.Body.WriteAsync(blob);
            }
        });
        var (client, _) = TestClients.Create([TestClients.Login(registry.Host, new RegistryCredentials("u", "p"))]);

        using var response = await client.GetBlobAsync(registry.Host, "team/app", digest, headOnly: false, Cancel);

        Assert.Null(response.RedirectTo);
        Assert.Equal(blob, await response.Response!.Content.ReadAsByteArrayAsync(Cancel));
        var followed = registry.Received.Last();
        Assert.Equal($"/internal/{digest}", followed.PathAndQuery);
        Assert.StartsWith("Basic ", followed.Header("Authorization"));
    }

    [Fact]
    public async Task Server_errors_are_retried_until_the_registry_answers()
    {
        var manifest = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{}},\"layers\":[]}}");
        var calls = 0;
        await using var registry = await ScriptedHttpServer.StartAsync(async context =>
        {
            switch (Interlocked.Increment(ref calls))
            {
                case 1:
                    context.Response.StatusCode = 503;
                    break;
                case 2:
                    context.Response.StatusCode = 429;
                    context.Response.Headers.RetryAfter = "0";
                    break;
                default:
                    context.Response.ContentType = MediaTypes.OciManifest;
                    await context.Response.Body.WriteAsync(manifest);
                    break;
            }
        });
        var (client, _) = TestClients.Create();

        var fetched = await client.GetManifestAsync(registry.Host, "team/app", "v1", Cancel);

        Assert.Equal(manifest, fetched.Content);
        Assert.Equal(3, registry.Received.Count);
    }

    [Fact]
    public async Task A_registry_failing_on_every_attempt_is_Failed_after_three_retries()
    {
        await using var registry = await ScriptedHttpServer.StartAsync(context =>
        {
            context.Response.StatusCode = 502;
            return Task.CompletedTask;
        });
        var (client, _) = TestClients.Create();

        var failure = await Assert.ThrowsAsync<RegistryException>(() => client.GetManifestAsync(registry.Host, "team/app", "v1", Cancel));

        Assert.Equal(RegistryErrorKind.Failed, failure.Kind);
        Assert.Equal(502, failure.StatusCode);
        Assert.Contains(registry.Host, failure.Message);
        Assert.Equal(4, registry.Received.Count);
    }

    [Fact]
    public async Task A_registry_that_does_not_answer_in_time_is_a_Timeout_but_the_callers_cancellation_stays_a_cancellation()
    {
        await using var registry = await ScriptedHttpServer.StartAsync(context => Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted));
        var (client, _) = TestClients.Create(timeout: TimeSpan.FromMilliseconds(500));

        var slow = await Assert.ThrowsAsync<RegistryException>(() => client.GetManifestAsync(registry.Host, "team/app", "v1", Cancel));
        Assert.Equal(RegistryErrorKind.Timeout, slow.Kind);
        Assert.Equal($"registry {registry.Host} did not answer in time", slow.Message);

        var (patient, _) = TestClients.Create(timeout: TimeSpan.FromSeconds(60));
        using var caller = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        caller.CancelAfter(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => patient.GetManifestAsync(registry.Host, "team/app", "v1", caller.Token));
    }

    [Fact]
    public async Task Manifests_that_are_oversized_or_do_not_match_their_digest_are_InvalidResponse()
    {
        var big = new byte[4 * 1024 * 1024 + 1];
        var small = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.DockerManifest}\"}}");
        await using var registry = await ScriptedHttpServer.StartAsync(async context =>
        {
            context.Response.ContentType = MediaTypes.DockerManifest;
            if (context.Request.Path.Value!.EndsWith("/big", StringComparison.Ordinal))
            {
                await context.Response.Body.WriteAsync(big);
                return;
            }
            if (context.Request.Path.Value.EndsWith("/lying", StringComparison.Ordinal))
            {
                context.Response.Headers["Docker-Content-Digest"] = Digest;
            }
            await context.Response.Body.WriteAsync(small);
        });
        var (client, _) = TestClients.Create();

        var oversized = await Assert.ThrowsAsync<RegistryException>(() => client.GetManifestAsync(registry.Host, "team/app", "big", Cancel));
        var lying = await Assert.ThrowsAsync<RegistryException>(() => client.GetManifestAsync(registry.Host, "team/app", "lying", Cancel));
        var wrongByDigest = await Assert.ThrowsAsync<RegistryException>(() => client.GetManifestAsync(registry.Host, "team/app", Digest, Cancel));
        var honest = await client.GetManifestAsync(registry.Host, "team/app", "honest", Cancel);

        Assert.All([oversized, lying, wrongByDigest], e => Assert.Equal(RegistryErrorKind.InvalidResponse, e.Kind));
        Assert.Equal(RegistryPusher.Sha256(small), honest.Digest);
    }

    [Fact]
    public async Task A_generic_content_type_falls_back_to_the_documents_media_type()
    {
        var index = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.DockerManifestList}\",\"manifests\":[]}}");
        await using var registry = await ScriptedHttpServer.StartAsync(async context =>
        {
            context.Response.ContentType = "application/json; charset=utf-8";
            await context.Response.Body.WriteAsync(index);
        });
        var (client, _) = TestClients.Create();

        var manifest = await client.GetManifestAsync(registry.Host, "team/app", "v1", Cancel);
        var head = await client.HeadManifestAsync(registry.Host, "team/app", "v1", Cancel);

        Assert.Equal(MediaTypes.DockerManifestList, manifest.MediaType);
        Assert.Equal(new ManifestHead(MediaTypes.DockerManifestList, RegistryPusher.Sha256(index), index.Length), head);
        var accept = registry.Received[0].Header("Accept")!;
        Assert.All(MediaTypes.ManifestAccept, m => Assert.Contains(m, accept));
    }

    [Fact]
    public async Task Bearer_tokens_are_fetched_again_once_expires_in_has_passed()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var tokenCalls = 0;
        await using var tokens = await ScriptedHttpServer.StartAsync(context =>
        {
            Interlocked.Increment(ref tokenCalls);
            return context.Response.WriteAsJsonAsync(new { access_token = "tok-" + tokenCalls, expires_in = 120 });
        });
        await using var registry = await ScriptedHttpServer.StartAsync(context =>
        {
            if (!context.Request.Headers.Authorization.ToString().StartsWith("Bearer tok-", StringComparison.Ordinal))
            {
                context.Response.StatusCode = 401;
                context.Response.Headers.WWWAuthenticate =
                    $"Bearer realm=\"http://{tokens.Host}/token\",service=\"scripted,with comma\",scope=\"repository:team/app:pull\"";
                return Task.CompletedTask;
            }
            context.Response.StatusCode = (int)HttpStatusCode.OK;
            return Task.CompletedTask;
        });
        var options = Microsoft.Extensions.Options.Options.Create(new RegistryOptions());
        var client = new RegistryClient(new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }), new ConfiguredRegistryCredentials(options),
            options, clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<RegistryClient>.Instance);

        using (await client.GetBlobAsync(registry.Host, "team/app", Digest, headOnly: true, Cancel)) { }
        clock.Advance(TimeSpan.FromSeconds(100));
        using (await client.GetBlobAsync(registry.Host, "team/app", Digest, headOnly: true, Cancel)) { }
        Assert.Equal(1, tokenCalls);

        clock.Advance(TimeSpan.FromSeconds(30));
        using (await client.GetBlobAsync(registry.Host, "team/app", Digest, headOnly: true, Cancel)) { }
        Assert.Equal(2, tokenCalls);
        Assert.Equal("/token?service=scripted%2Cwith%20comma&scope=repository%3Ateam%2Fapp%3Apull", tokens.Received[0].PathAndQuery);
    }

    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
