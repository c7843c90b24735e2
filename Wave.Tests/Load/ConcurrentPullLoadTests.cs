using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json.Nodes;

using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Load;

/// <summary>
/// 200 concurrent clients pull augmented images (manifest, config, every layer) from a dedicated embedded host for a
/// bounded time: no request fails and every byte served verifies against the digest it was asked for. And 1,000 blob
/// GETs opened at once through a private (authenticated, streamed) upstream all complete and verify.
/// </summary>
public sealed class ConcurrentPullLoadTests(RegistryFixture registryFixture)
{
    private const int Clients = 200;
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("WAVE_LOAD_SECONDS"), out var seconds) ? Math.Min(seconds, 30) : 30);

    private static readonly string[] ManifestTypes =
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ];

    [Fact]
    public async Task Two_hundred_clients_pull_augmented_images_without_an_error_and_every_digest_verifies()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var registries = await registryFixture.GetAsync();
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, WaveFixture.RegistrySettings(registries));

        var layer = TestLayer.Create(new Dictionary<string, string> { ["wave/load.txt"] = "under load " + Guid.NewGuid() });
        var config = new { env = new[] { "LOAD=1" }, layers = new[] { layer.AsDataLayer() } };
        var requests = new object[]
        {
            new { containerImage = registries.Images.DockerV2, containerConfig = config },
            new { containerImage = registries.Images.Oci, containerConfig = config },
            new { containerImage = registries.Images.MultiArch, containerConfig = config },
            new { containerImage = registries.Images.MultiArch, containerPlatform = "linux/arm64", containerConfig = config },
            new { containerImage = registries.Images.BasicPrivate, containerConfig = config },
        };
        var targets = new List<string>();
        foreach (var request in requests)
        {
            var answer = await wave.Client.PostContainerAsync(request);
            Assert.True(answer.Status == 200, answer.Text);
            targets.Add(answer.TargetImage);
        }

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Clients, AllowAutoRedirect = true })
        {
            BaseAddress = wave.BaseAddress,
            Timeout = TimeSpan.FromSeconds(60),
        };
        var errors = new ConcurrentQueue<string>();
        var pulls = 0;
        long verifiedBlobs = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(client => Task.Run(async () =>
        {
            var i = client;
            while (clock.Elapsed < Duration && errors.IsEmpty)
            {
                try
                {
                    Interlocked.Add(ref verifiedBlobs, await PullAsync(http, targets[i++ % targets.Count], cancellationToken));
                    Interlocked.Increment(ref pulls);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    errors.Enqueue($"client {client}: {e.GetType().Name}: {e.Message}");
                }
            }
        }, cancellationToken)));

        Assert.True(errors.IsEmpty, $"{errors.Count} failures after {pulls} pulls, e.g.:\n{string.Join('\n', errors.Take(5))}");
        Assert.True(pulls >= Clients, $"only {pulls} pulls completed in {Duration}");
        TestContext.Current.SendDiagnosticMessage($"{pulls} pulls ({verifiedBlobs} blobs verified) by {Clients} clients in {clock.Elapsed}");
    }

    [Fact]
    public async Task A_thousand_concurrent_streamed_blob_pulls_all_complete_and_verify()
    {
        const int Pulls = 1000;
        var cancellationToken = TestContext.Current.CancellationToken;
        var registries = await registryFixture.GetAsync();
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, WaveFixture.RegistrySettings(registries));
        var answer = await wave.Client.PostContainerAsync(new { containerImage = registries.Images.BasicPrivate });
        Assert.True(answer.Status == 200, answer.Text);
        var path = answer.TargetImage[(answer.TargetImage.IndexOf('/') + 1)..];
        var repository = $"/v2/{path[..path.LastIndexOf(':')]}";

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Pulls, AllowAutoRedirect = false })
        {
            BaseAddress = wave.BaseAddress,
            // Generous: the bound keeps a hang from stalling the suite; it is not a performance limit.
            Timeout = TimeSpan.FromMinutes(3),
        };
        var manifest = JsonNode.Parse(await GetVerifiedAsync(http, $"{repository}/manifests/{path[(path.LastIndexOf(':') + 1)..]}", null, cancellationToken))!;
        var layer = manifest["layers"]![0]!["digest"]!.GetValue<string>();

        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pulls = Enumerable.Range(0, Pulls).Select(_ => Task.Run(async () =>
        {
            await start.Task;
            return (await GetVerifiedAsync(http, $"{repository}/blobs/{layer}", layer, cancellationToken)).Length;
        }, cancellationToken)).ToList();
        var clock = Stopwatch.StartNew();
        start.SetResult();
        var failures = new List<string>();
        long bytes = 0;
        foreach (var pull in pulls)
        {
            try
            {
                bytes += await pull;
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                failures.Add($"{e.GetType().Name}: {e.Message}");
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {Pulls} pulls failed, e.g.:\n{string.Join('\n', failures.Distinct().Take(5))}");
        TestContext.Current.SendDiagnosticMessage($"{Pulls} concurrent pulls of {layer} ({bytes / Pulls} bytes each) verified in {clock.Elapsed}");
    }

    /// <summary>One client pull: manifest (through an index to the amd64 entry), config and layers; returns the blobs verified.</summary>
    private static async Task<int> PullAsync(HttpClient http, string targetImage, CancellationToken cancellationToken)
    {
        var path = targetImage[(targetImage.IndexOf('/') + 1)..];
        var colon = path.LastIndexOf(':');
        var repository = $"/v2/{path[..colon]}";
        var manifest = await GetVerifiedAsync(http, $"{repository}/manifests/{path[(colon + 1)..]}", null, cancellationToken);
        var document = JsonNode.Parse(manifest)!;
        if (document["manifests"] is JsonArray entries)
        {
            var amd64 = entries.First(m => m!["platform"]?["architecture"]?.GetValue<string>() == "amd64")!;
            var digest = amd64["digest"]!.GetValue<string>();
            document = JsonNode.Parse(await GetVerifiedAsync(http, $"{repository}/manifests/{digest}", digest, cancellationToken))!;
        }
        var blobs = document["layers"]!.AsArray().Select(l => l!["digest"]!.GetValue<string>())
            .Prepend(document["config"]!["digest"]!.GetValue<string>()).ToList();
        foreach (var blob in blobs)
        {
            await GetVerifiedAsync(http, $"{repository}/blobs/{blob}", blob, cancellationToken);
        }
        return blobs.Count;
    }

    private static async Task<byte[]> GetVerifiedAsync(HttpClient http, string path, string? digest, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        foreach (var type in ManifestTypes)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
        }
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"GET {path}: {(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(body)}");
        }
        var actual = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(body));
        var expected = digest ?? response.Headers.GetValues("Docker-Content-Digest").Single();
        if (actual != expected)
        {
            throw new InvalidOperationException($"GET {path}: {body.Length} bytes hash to {actual}, expected {expected}");
        }
        return body;
    }
}
