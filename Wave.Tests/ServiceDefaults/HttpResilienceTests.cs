using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;

using Wave.Core.Registry;
using Wave.Tests.Infrastructure;
using Wave.Tests.Registry;

namespace Wave.Tests.ServiceDefaults;

/// <summary>
/// The HttpClient resilience the service defaults give every client (<c>HttpResilienceDefaults</c>), through the
/// registry client as a service builds it, against real distribution registries: a registry whose storage is broken
/// for one repository (it answers 500 there, as for any storage failure), a frozen one (SIGSTOP: it accepts
/// connections and never answers), and the suite's htpasswd one. The recording handler sits inside the pipeline, so
/// it sees every attempt.
/// </summary>
public sealed class HttpResilienceTests(RegistryFixture fixture)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>Short timeouts, so that a test shows in seconds what they bound and what they leave alone.</summary>
    private static readonly Dictionary<string, string?> ShortTimeouts = new()
    {
        ["Wave:Http:Resilience:AttemptTimeout:Timeout"] = "00:00:01",
        ["Wave:Http:Resilience:TotalRequestTimeout:Timeout"] = "00:00:03",
    };

    [Fact]
    public async Task A_failing_GET_is_retried_three_times_but_a_failing_POST_is_sent_once()
    {
        var directory = Directory.CreateTempSubdirectory("wave-broken-registry-").FullName;
        await using var registry = await RegistryServer.StartNewAsync(directory, null, null);
        // The registry's storage cannot hold these repositories: a file where a folder must be. It answers 500 for the
        // manifest of the first and for an upload started in the second (whose blobs it still reports missing, 404).
        var repositories = Path.Combine(directory, "storage", "docker", "registry", "v2", "repositories", "wave");
        Directory.CreateDirectory(Path.Combine(repositories, "post-once"));
        await File.WriteAllTextAsync(Path.Combine(repositories, "get-retried"), "not a folder", Cancel);
        await File.WriteAllTextAsync(Path.Combine(repositories, "post-once", "_uploads"), "not a folder", Cancel);
        var (client, wire) = TestClients.Create();

        var get = await Assert.ThrowsAsync<RegistryException>(() => client.GetManifestAsync(registry.Host, "wave/get-retried", "latest", Cancel));
        Assert.Equal(RegistryErrorKind.Failed, get.Kind);
        Assert.Equal(500, get.StatusCode);
        Assert.Equal(4, wire.Requests.Count(r => r.Uri.AbsolutePath == "/v2/wave/get-retried/manifests/latest"));

        var push = await Assert.ThrowsAsync<RegistryException>(() => client.PushBlobAsync(registry.Host, "wave/post-once", "some config"u8.ToArray(), Cancel));
        Assert.Equal(500, push.StatusCode);
        Assert.Equal(1, wire.Requests.Count(r => r.Method == HttpMethod.Post));
        Assert.Equal(1, wire.Requests.Count(r => r.Method == HttpMethod.Head)); // a 404 is an answer, not a failure
    }

    [Fact]
    public async Task A_401_is_never_retried_neither_from_the_registry_nor_from_its_token_service()
    {
        var registries = await fixture.GetAsync();
        var (basicRegistry, basicRepository, basicTag) = TestClients.Split(registries.Images.BasicPrivate);
        var (basic, basicWire) = TestClients.Create([TestClients.Login(basicRegistry, new RegistryCredentials("wave-basic", "wrong-pass-123"))]);

        var refused = await Assert.ThrowsAsync<RegistryException>(() => basic.GetManifestAsync(basicRegistry, basicRepository, basicTag, Cancel));

        Assert.Equal(RegistryErrorKind.Unauthorized, refused.Kind);
        // The anonymous request's 401 is the challenge, answered once with the login; the login's 401 is final.
        Assert.Equal([null, "Basic"], basicWire.Requests.Select(r => r.Authorization));

        var (bearerRegistry, bearerRepository, bearerTag) = TestClients.Split(registries.Images.BearerPrivate);
        var (bearer, bearerWire) = TestClients.Create([TestClients.Login(bearerRegistry, new RegistryCredentials("wave-bearer", "not-the-pw-456"))]);
        var realm = new Uri(fixture.TokenService!.Realm);

        var noToken = await Assert.ThrowsAsync<RegistryException>(() => bearer.GetManifestAsync(bearerRegistry, bearerRepository, bearerTag, Cancel));

        Assert.Equal(RegistryErrorKind.Unauthorized, noToken.Kind);
        Assert.Single(bearerWire.Requests, r => r.Uri.Authority == realm.Authority);
        Assert.Single(bearerWire.Requests, r => r.Uri.Authority == bearerRegistry);
    }

    [Fact]
    public async Task A_refused_connection_is_retried_but_an_address_the_policy_refuses_is_tried_once()
    {
        var (client, wire) = TestClients.Create();
        var closed = $"127.0.0.1:{FreePort.Next()}";

        var down = await Assert.ThrowsAsync<RegistryException>(() => client.GetManifestAsync(closed, "wave/any", "latest", Cancel));
        Assert.Equal(RegistryErrorKind.Unreachable, down.Kind);
        Assert.Equal(4, wire.Requests.Count(r => r.Uri.Authority == closed));

        // Nothing listens there either, but Wave does not even dial it: the same answer would come on every attempt.
        var refused = await Assert.ThrowsAsync<RegistryException>(() => client.GetManifestAsync("169.254.169.254", "wave/any", "latest", Cancel));
        Assert.Equal(RegistryErrorKind.Unreachable, refused.Kind);
        Assert.Contains("Wave does not connect to 169.254.169.254:443: it resolves to 169.254.169.254, a link-local or cloud metadata address", refused.Message, StringComparison.Ordinal);
        Assert.Single(wire.Requests, r => r.Uri.Host == "169.254.169.254");
    }

    [Fact]
    public async Task Timeouts_bound_the_wait_for_headers_but_never_the_reading_of_a_blob_body()
    {
        var registries = await fixture.GetAsync();
        var directory = Directory.CreateTempSubdirectory("wave-frozen-registry-").FullName;
        await using var frozen = await RegistryServer.StartNewAsync(directory, null, null);
        var (client, wire) = TestClients.Create(timeout: TimeSpan.FromSeconds(1), settings: ShortTimeouts);
        var (pusher, _) = TestClients.Create();
        var content = RandomNumberGenerator.GetBytes(4 * 1024 * 1024);
        var (registry, _, _) = TestClients.Split(registries.Images.DockerV2);
        var blob = await pusher.PushBlobAsync(registry, "wave/slow-reader", content, Cancel);

        // The body is read in 64 KiB pieces 100 ms apart: over 6 s, longer than the attempt timeout (1 s), the total
        // timeout (3 s) and HttpClient's (1 s) together.
        using var response = await client.GetBlobAsync(registry, "wave/slow-reader", blob.Digest, headOnly: false, Cancel);
        await using var body = await response.Response!.Content.ReadAsStreamAsync(Cancel);

        // Meanwhile requests to a registry that never answers time out: their timeouts fire (and the pipeline's
        // pooled cancellation sources with them) while the body above is being read.
        await TestProcess.RunAsync("kill", ["-STOP", frozen.ProcessId!.Value.ToString(CultureInfo.InvariantCulture)]);
        Task<RegistryException>[] timedOut;
        try
        {
            var clock = Stopwatch.StartNew();
            timedOut = [.. Enumerable.Range(0, 3).Select(i => Assert.ThrowsAsync<RegistryException>(() => client.GetManifestAsync(frozen.Host, $"wave/frozen-{i}", "latest", Cancel)))];
            var read = new MemoryStream();
            var piece = new byte[64 * 1024];
            int n;
            while ((n = await body.ReadAsync(piece, Cancel)) > 0)
            {
                read.Write(piece, 0, n);
                await Task.Delay(100, Cancel);
            }
            Assert.True(clock.Elapsed > TimeSpan.FromSeconds(5), $"the body was read in {clock.Elapsed}: too fast to show anything");
            Assert.Equal(content, read.ToArray());
            foreach (var failure in await Task.WhenAll(timedOut))
            {
                Assert.Equal(RegistryErrorKind.Timeout, failure.Kind);
                Assert.Equal($"registry {frozen.Host} did not answer in time", failure.Message);
            }
        }
        finally
        {
            await TestProcess.RunAsync("kill", ["-CONT", frozen.ProcessId!.Value.ToString(CultureInfo.InvariantCulture)]);
        }
    }
}
