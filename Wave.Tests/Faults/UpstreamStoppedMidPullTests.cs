using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Faults;

/// <summary>
/// The upstream registry dies while Wave streams one of its layers: the download in flight breaks (it never ends as
/// a complete, wrong layer), the next request is a 502 naming the registry, and pulls work again once it is back.
/// </summary>
public sealed class UpstreamStoppedMidPullTests(RegistryFixture registryFixture, WaveFixture waveFixture)
{
    private const int LayerBytes = 48 * 1024 * 1024;

    [Fact]
    public async Task A_blob_download_breaks_when_the_upstream_stops_then_502_then_recovery()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var registries = await registryFixture.GetAsync();
        var wave = await waveFixture.GetEmbeddedAsync(registries);
        var directory = Directory.CreateTempSubdirectory("wave-midpull-");
        await using var upstream = await RegistryServer.StartNewAsync(directory.FullName, null, null);
        try
        {
            var layer = RandomNumberGenerator.GetBytes(LayerBytes);
            string layerDigest;
            using (var pusher = new RegistryPusher(upstream))
            {
                layerDigest = (await pusher.PushImageAsync("big/image", "v1", [layer], cancellationToken)).Single();
            }

            var answer = await wave.Client.PostContainerAsync(new { containerImage = $"{upstream.Host}/big/image:v1" });
            Assert.True(answer.Status == 200, answer.Text);
            var blobPath = $"/v2/wt/{answer.Token}/big/image/blobs/{layerDigest}";

            using (var response = await wave.Client.GetAsync(blobPath, HttpCompletionOption.ResponseHeadersRead, cancellationToken))
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal(LayerBytes, response.Content.Headers.ContentLength);
                await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
                var buffer = new byte[1024 * 1024];
                await body.ReadExactlyAsync(buffer, cancellationToken);
                await upstream.StopAsync();
                var received = buffer.Length;
                var broke = await Assert.ThrowsAnyAsync<Exception>(async () =>
                {
                    int read;
                    while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
                    {
                        received += read;
                    }
                });
                Assert.True(broke is IOException or HttpRequestException, broke.ToString());
                Assert.True(received < LayerBytes, $"received all {received} bytes although the upstream stopped");
            }

            using (var refused = await wave.Client.GetAsync(blobPath, cancellationToken))
            {
                var text = await refused.Content.ReadAsStringAsync(cancellationToken);
                Assert.True(refused.StatusCode == HttpStatusCode.BadGateway, $"{refused.StatusCode}: {text}");
                var error = JsonNode.Parse(text)!["errors"]![0]!;
                Assert.Equal("UNAVAILABLE", error["code"]!.GetValue<string>());
                Assert.Contains(upstream.Host, error["message"]!.GetValue<string>(), StringComparison.Ordinal);
            }

            await upstream.StartAsync();
            var whole = await wave.Client.GetByteArrayAsync(blobPath, cancellationToken);
            Assert.Equal(layerDigest, RegistryPusher.Sha256(whole));
        }
        finally
        {
            await upstream.StopAsync();
            directory.Delete(recursive: true);
        }
    }
}
