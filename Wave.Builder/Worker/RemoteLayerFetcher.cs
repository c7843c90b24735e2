using System.Security.Cryptography;

using Wave.Core.Builds;

namespace Wave.Builder.Worker;

/// <summary>
/// Downloads the http(s) layers of a freeze into the build context, each checked against the size and gzip digest
/// the request gave (which are part of the container id), so that what is built is exactly what was asked for.
/// </summary>
public sealed class RemoteLayerFetcher(IHttpClientFactory clients)
{
    public const string HttpClientName = "wave-remote-layers";

    /// <summary>Largest remote layer fetched into a context (512 MiB); a bigger one fails the build.</summary>
    public const long MaxLayerBytes = 512L * 1024 * 1024;

    /// <returns>The job with the layers in <see cref="BuildJob.BinaryContextFiles"/>, or why one could not be fetched.</returns>
    public async Task<(BuildJob? Job, string? Problem)> FetchAsync(BuildJob job, CancellationToken cancellationToken)
    {
        if (job.RemoteLayers.Count == 0)
        {
            return (job, null);
        }
        var files = new Dictionary<string, byte[]>(job.BinaryContextFiles, StringComparer.Ordinal);
        var client = clients.CreateClient(HttpClientName);
        foreach (var layer in job.RemoteLayers)
        {
            var (bytes, problem) = await DownloadAsync(client, layer, cancellationToken);
            if (bytes is null)
            {
                return (null, problem);
            }
            files[layer.Path] = bytes;
        }
        return (job with { BinaryContextFiles = files, RemoteLayers = [] }, null);
    }

    private static async Task<(byte[]? Bytes, string? Problem)> DownloadAsync(HttpClient client, RemoteLayer layer, CancellationToken cancellationToken)
    {
        var where = $"layer {layer.Location.GetLeftPart(UriPartial.Path)}";
        if (layer.GzipSize > MaxLayerBytes)
        {
            return (null, $"{where} has {layer.GzipSize} bytes; at most {MaxLayerBytes} are fetched into a build");
        }
        try
        {
            using var response = await client.GetAsync(layer.Location, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return (null, $"{where} could not be fetched: HTTP {(int)response.StatusCode}");
            }
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            var bytes = new byte[layer.GzipSize];
            var read = 0;
            while (read < bytes.Length)
            {
                var n = await body.ReadAsync(bytes.AsMemory(read), cancellationToken);
                if (n == 0)
                {
                    return (null, $"{where} has {read} bytes, not the {layer.GzipSize} the request gave (gzipSize)");
                }
                read += n;
            }
            if (await body.ReadAsync(new byte[1], cancellationToken) > 0)
            {
                return (null, $"{where} is longer than the {layer.GzipSize} bytes the request gave (gzipSize)");
            }
            var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
            if (digest != layer.GzipDigest)
            {
                return (null, $"{where} has digest {digest}, not the {layer.GzipDigest} the request gave (gzipDigest)");
            }
            return (bytes, null);
        }
        catch (HttpRequestException e)
        {
            return (null, $"{where} could not be fetched: {e.Message}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"{where} could not be fetched: timed out");
        }
    }
}
