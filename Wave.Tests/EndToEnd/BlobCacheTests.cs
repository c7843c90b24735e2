using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

using Microsoft.Extensions.DependencyInjection;

using Wave.RegistryProxy.Content;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.EndToEnd;

/// <summary>
/// The proxy's disk cache of upstream layers, against a real registry: a verified layer is served again from disk
/// (also while the upstream is down, with ranges), only for the repository it was verified in, and within its size.
/// </summary>
public sealed class BlobCacheTests(RegistryFixture registryFixture) : IAsyncLifetime
{
    private const int LayerBytes = 1024 * 1024;
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private DirectoryInfo _directory = null!;
    private RegistryServer _upstream = null!;

    public async ValueTask InitializeAsync()
    {
        _directory = Directory.CreateTempSubdirectory("wave-blobcache-");
        _upstream = await RegistryServer.StartNewAsync(_directory.FullName, null, null);
    }

    public async ValueTask DisposeAsync()
    {
        await _upstream.DisposeAsync();
        _directory.Delete(recursive: true);
    }

    private sealed record PushedImage(string Image, string Repository, IReadOnlyList<(string Digest, byte[] Bytes)> Layers);

    /// <summary>An image of random, incompressible layers pushed to the test's own registry.</summary>
    private async Task<PushedImage> PushImageAsync(string repository, int layerCount)
    {
        using var pusher = new RegistryPusher(_upstream);
        var layers = Enumerable.Range(0, layerCount).Select(_ => RandomNumberGenerator.GetBytes(LayerBytes)).ToList();
        var digests = await pusher.PushImageAsync(repository, "v1", layers, Token);
        return new PushedImage($"{_upstream.Host}/{repository}:v1", repository, [.. digests.Zip(layers)]);
    }

    private async Task<WaveTestHost> StartWaveAsync(Dictionary<string, string?>? settings = null) =>
        await WaveTestHost.StartAsync(WaveRole.Embedded, new Dictionary<string, string?>(WaveFixture.RegistrySettings(await registryFixture.GetAsync()))
            .Concat(settings ?? []).ToDictionary());

    private static async Task<string> BlobPathAsync(WaveTestHost wave, PushedImage image)
    {
        var answer = await wave.Client.PostContainerAsync(new { containerImage = image.Image });
        Assert.True(answer.Status == 200, answer.Text);
        return $"/v2/wt/{answer.Token}/{image.Repository}/blobs/";
    }

    private static async Task<byte[]> GetBlobAsync(WaveTestHost wave, string path)
    {
        using var response = await wave.Client.GetAsync(path, Token);
        var body = await response.Content.ReadAsByteArrayAsync(Token);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {Encoding.UTF8.GetString(body)}");
        return body;
    }

    [Fact]
    public async Task A_layer_pulled_once_is_served_from_disk_with_ranges_while_the_upstream_is_down()
    {
        await using var wave = await StartWaveAsync();
        var image = await PushImageAsync("cache/served", 1);
        var (digest, bytes) = image.Layers[0];
        var blobs = await BlobPathAsync(wave, image);
        var cache = wave.Services.GetRequiredService<BlobCache>();
        Assert.Null(cache.TryOpen(_upstream.Host, image.Repository, digest));

        Assert.Equal(bytes, await GetBlobAsync(wave, blobs + digest)); // streamed from the registry, verified, kept
        await _upstream.StopAsync();

        Assert.Equal(bytes, await GetBlobAsync(wave, blobs + digest));
        using (var head = await wave.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, blobs + digest), Token))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal(LayerBytes, head.Content.Headers.ContentLength);
            Assert.Equal(digest, head.Headers.GetValues("Docker-Content-Digest").Single());
        }
        using var ranged = new HttpRequestMessage(HttpMethod.Get, blobs + digest);
        ranged.Headers.Range = new RangeHeaderValue(1000, 1999);
        using var partial = await wave.Client.SendAsync(ranged, Token);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal(bytes[1000..2000], await partial.Content.ReadAsByteArrayAsync(Token));

        // A layer of the same image that was never pulled still needs the upstream: a 502 naming it.
        using var uncached = await wave.Client.GetAsync(blobs + "sha256:" + new string('a', 64), Token);
        var text = await uncached.Content.ReadAsStringAsync(Token);
        Assert.True(uncached.StatusCode == HttpStatusCode.BadGateway, $"{(int)uncached.StatusCode}: {text}");
        Assert.Contains(_upstream.Host, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cached_layer_is_not_served_through_a_repository_that_does_not_hold_it()
    {
        await using var wave = await StartWaveAsync();
        var holder = await PushImageAsync("cache/holder", 1);
        var other = await PushImageAsync("cache/other", 1);
        var (digest, bytes) = holder.Layers[0];
        Assert.Equal(bytes, await GetBlobAsync(wave, await BlobPathAsync(wave, holder) + digest));

        using (var direct = new HttpClient())
        using (var check = await direct.GetAsync($"http://{_upstream.Host}/v2/{other.Repository}/blobs/{digest}", Token))
        {
            Assert.Equal(HttpStatusCode.NotFound, check.StatusCode); // the registry does not link it to the other repository
        }
        using var response = await wave.Client.GetAsync(await BlobPathAsync(wave, other) + digest, Token);
        var text = await response.Content.ReadAsStringAsync(Token);
        Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("BLOB_UNKNOWN", JsonNode.Parse(text)!["errors"]![0]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_cache_keeps_within_its_size_by_evicting_the_least_recently_served_layer()
    {
        await using var wave = await StartWaveAsync(new() { ["Wave:Proxy:BlobCache:MaxBytes"] = (LayerBytes * 5 / 2).ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var image = await PushImageAsync("cache/evicted", 3);
        var blobs = await BlobPathAsync(wave, image);
        var cache = wave.Services.GetRequiredService<BlobCache>();
        bool Cached(int layer)
        {
            using var hit = cache.TryOpen(_upstream.Host, image.Repository, image.Layers[layer].Digest)?.Content;
            return hit is not null;
        }

        await GetBlobAsync(wave, blobs + image.Layers[0].Digest);
        await GetBlobAsync(wave, blobs + image.Layers[1].Digest);
        Assert.True(Cached(0) && Cached(1));
        await GetBlobAsync(wave, blobs + image.Layers[0].Digest); // layer 1 is now the least recently served
        Assert.Equal(image.Layers[2].Bytes, await GetBlobAsync(wave, blobs + image.Layers[2].Digest));

        Assert.True(Cached(0), "the recently served layer was evicted");
        Assert.False(Cached(1), "the least recently served layer was kept beyond the size limit");
        Assert.True(Cached(2), "the newest layer was not kept");
        Assert.Equal(2L * LayerBytes, cache.TotalBytes);
        var folder = wave.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<BlobCacheOptions>>().Value.Directory;
        Assert.Equal(2, Directory.GetFiles(Path.Combine(folder, "sha256")).Length);
        var evictedHex = image.Layers[1].Digest["sha256:".Length..];
        Assert.Empty(Directory.GetFiles(Path.Combine(folder, "repositories"), evictedHex, SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_burst_of_first_pulls_of_one_layer_all_verify_and_leave_one_file()
    {
        await using var wave = await StartWaveAsync();
        var image = await PushImageAsync("cache/burst", 1);
        var (digest, bytes) = image.Layers[0];
        var blobs = await BlobPathAsync(wave, image);

        var bodies = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => GetBlobAsync(wave, blobs + digest)));

        Assert.All(bodies, body => Assert.Equal(bytes, body));
        var cache = wave.Services.GetRequiredService<BlobCache>();
        Assert.Equal(LayerBytes, cache.TotalBytes);
        var folder = wave.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<BlobCacheOptions>>().Value.Directory;
        Assert.Equal([digest["sha256:".Length..]], Directory.GetFiles(Path.Combine(folder, "sha256")).Select(Path.GetFileName));
        Assert.Empty(Directory.GetFiles(Path.Combine(folder, "partial")));
    }

    [Fact]
    public async Task Two_proxies_sharing_one_folder_serve_each_others_layers()
    {
        var folder = Path.Combine(_directory.FullName, "shared-cache");
        var shared = new Dictionary<string, string?> { ["Wave:Proxy:BlobCache:Directory"] = folder };
        await using var first = await StartWaveAsync(shared);
        await using var second = await StartWaveAsync(shared);
        var image = await PushImageAsync("cache/shared", 1);
        var (digest, bytes) = image.Layers[0];
        var secondPath = await BlobPathAsync(second, image);

        Assert.Equal(bytes, await GetBlobAsync(first, await BlobPathAsync(first, image) + digest));
        await _upstream.StopAsync(); // the second proxy can only have it from the folder now

        Assert.Equal(bytes, await GetBlobAsync(second, secondPath + digest));
        Assert.Equal(LayerBytes, second.Services.GetRequiredService<BlobCache>().TotalBytes);
    }
}
