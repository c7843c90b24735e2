using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

using Microsoft.Extensions.DependencyInjection;

using Wave.RegistryProxy.Content;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Faults;

/// <summary>
/// An upstream registry that answers nonsense: every pull through Wave gets a clear 4xx/5xx naming the registry
/// (never a 500, never a corrupt body delivered as complete), and nothing that does not verify is kept: once the
/// upstream is repaired the same request gets the good content.
/// </summary>
public sealed class MalformedUpstreamTests : IAsyncLifetime
{
    private static readonly TestLayer Added = TestLayer.Create(new Dictionary<string, string> { ["wave/added.txt"] = "added by wave" });
    private const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

    private ScriptedUpstream _upstream = null!;
    private WaveTestHost _wave = null!;

    public async ValueTask InitializeAsync()
    {
        _upstream = await ScriptedUpstream.StartAsync("upstream content " + Guid.NewGuid());
        _wave = await WaveTestHost.StartAsync(WaveRole.Embedded, new Dictionary<string, string?>());
    }

    public async ValueTask DisposeAsync()
    {
        await _wave.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private async Task<string> RequestTokenPathAsync()
    {
        var answer = await _wave.Client.PostContainerAsync(new { containerImage = _upstream.Image, containerConfig = new { layers = new[] { Added.AsDataLayer() } } });
        Assert.True(answer.Status == 200, answer.Text);
        return $"/v2/wt/{answer.Token}/{ScriptedUpstream.Repository}";
    }

    private async Task<(HttpStatusCode Status, byte[] Body, string? Digest)> GetAsync(string path, string? accept = DockerManifest)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (accept is not null)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        }
        using var response = await _wave.Client.SendAsync(request, TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken);
        var digest = response.Headers.TryGetValues("Docker-Content-Digest", out var values) ? values.Single() : null;
        return (response.StatusCode, body, digest);
    }

    /// <summary>A 5xx OCI error whose message names the upstream registry.</summary>
    private async Task AssertUpstreamErrorAsync(string path)
    {
        var (status, body, _) = await GetAsync(path);
        var text = System.Text.Encoding.UTF8.GetString(body);
        Assert.True(status is HttpStatusCode.BadGateway, $"{(int)status}: {text}");
        var error = JsonNode.Parse(text)!["errors"]![0]!;
        Assert.Contains(_upstream.Host, error["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    /// <summary>The augmented manifest: served with the digest of its bytes, its config verifies, the added layer is there.</summary>
    private async Task AssertGoodPullAsync(string tokenPath)
    {
        var (status, body, digest) = await GetAsync($"{tokenPath}/manifests/{ScriptedUpstream.Tag}");
        Assert.True(status == HttpStatusCode.OK, $"{(int)status}: {System.Text.Encoding.UTF8.GetString(body)}");
        Assert.Equal(ScriptedUpstream.Sha256(body), digest);
        var manifest = JsonNode.Parse(body)!;
        var layers = manifest["layers"]!.AsArray().Select(l => l!["digest"]!.GetValue<string>()).ToList();
        Assert.Equal([_upstream.Layer.GzipDigest, Added.GzipDigest], layers);
        foreach (var blob in layers.Append(manifest["config"]!["digest"]!.GetValue<string>()))
        {
            var (blobStatus, blobBody, _) = await GetAsync($"{tokenPath}/blobs/{blob}", accept: null);
            Assert.Equal(HttpStatusCode.OK, blobStatus);
            Assert.Equal(blob, ScriptedUpstream.Sha256(blobBody));
        }
    }

    [Theory]
    [InlineData(UpstreamFault.WrongManifestDigest)]
    [InlineData(UpstreamFault.TruncatedBlobs)]
    [InlineData(UpstreamFault.BlobsCutMidBody)]
    [InlineData(UpstreamFault.ManifestLiesAboutContentLength)]
    public async Task A_spoilt_answer_during_augmentation_is_a_502_and_is_not_kept(UpstreamFault fault)
    {
        var tokenPath = await RequestTokenPathAsync();
        _upstream.Fault = fault;
        await AssertUpstreamErrorAsync($"{tokenPath}/manifests/{ScriptedUpstream.Tag}");
        await AssertUpstreamErrorAsync($"{tokenPath}/manifests/{ScriptedUpstream.Tag}");

        _upstream.Fault = UpstreamFault.Honest;
        await AssertGoodPullAsync(tokenPath);
    }

    [Theory]
    [InlineData(UpstreamFault.TruncatedBlobs)]
    [InlineData(UpstreamFault.BlobsCutMidBody)]
    public async Task A_spoilt_upstream_layer_is_never_delivered_as_complete_nor_cached(UpstreamFault fault)
    {
        var tokenPath = await RequestTokenPathAsync();
        var cache = _wave.Services.GetRequiredService<BlobCache>();
        _upstream.Fault = fault;
        var layerPath = $"{tokenPath}/blobs/{_upstream.Layer.GzipDigest}";
        for (var attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                var (status, body, _) = await GetAsync(layerPath, accept: null);
                // An answer that completes must be an error, never the wrong bytes under the layer's digest.
                Assert.True(status == HttpStatusCode.BadGateway, $"{(int)status} with {body.Length} bytes");
                Assert.Contains(_upstream.Host, System.Text.Encoding.UTF8.GetString(body), StringComparison.Ordinal);
            }
            catch (HttpRequestException)
            {
                // A broken download: what a client must see once the body has started.
            }
            Assert.Null(cache.TryOpen(_upstream.Host, ScriptedUpstream.Repository, _upstream.Layer.GzipDigest));
        }

        _upstream.Fault = UpstreamFault.Honest;
        await AssertGoodPullAsync(tokenPath);
        using (var cached = cache.TryOpen(_upstream.Host, ScriptedUpstream.Repository, _upstream.Layer.GzipDigest)?.Content)
        {
            Assert.NotNull(cached);
            Assert.Equal(_upstream.Layer.GzipDigest, ScriptedUpstream.Sha256(await ReadAllAsync(cached)));
        }

        // The verified copy is what later pulls get, whatever the upstream does meanwhile.
        _upstream.Fault = fault;
        var upstreamRequests = _upstream.Received.Count;
        var (againStatus, againBody, againDigest) = await GetAsync(layerPath, accept: null);
        Assert.Equal(HttpStatusCode.OK, againStatus);
        Assert.Equal(_upstream.Layer.GzipDigest, ScriptedUpstream.Sha256(againBody));
        Assert.Equal(_upstream.Layer.GzipDigest, againDigest);
        Assert.Equal(upstreamRequests, _upstream.Received.Count);
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, TestContext.Current.CancellationToken);
        return copy.ToArray();
    }

    [Theory]
    [InlineData(UpstreamFault.InvalidJsonManifest)]
    [InlineData(UpstreamFault.ManifestLiesAboutSizes)]
    public async Task A_bad_manifest_gets_a_clear_error_and_a_new_request_after_the_repair_pulls(UpstreamFault fault)
    {
        _upstream.Fault = fault;
        var answer = await _wave.Client.PostContainerAsync(new { containerImage = _upstream.Image, containerConfig = new { layers = new[] { Added.AsDataLayer() } } });
        if (answer.Status == 200)
        {
            // Accepted on the digest alone: the pull is what fails, clearly, every time.
            var tokenPath = $"/v2/wt/{answer.Token}/{ScriptedUpstream.Repository}";
            await AssertUpstreamErrorAsync($"{tokenPath}/manifests/{ScriptedUpstream.Tag}");
            await AssertUpstreamErrorAsync($"{tokenPath}/manifests/{ScriptedUpstream.Tag}");
        }
        else
        {
            Assert.True(answer.Status is 400 or 502, answer.Text);
            Assert.Contains(_upstream.Host, answer.Message, StringComparison.Ordinal);
        }

        _upstream.Fault = UpstreamFault.Honest;
        await AssertGoodPullAsync(await RequestTokenPathAsync());
    }
}
