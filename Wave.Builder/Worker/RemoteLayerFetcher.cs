using System.Security.Cryptography;
using System.Text;

using Microsoft.Extensions.Options;

using Wave.Core.Augmentation;
using Wave.Core.Builds;
using Wave.Core.Layers;
using Wave.Core.Security;

namespace Wave.Builder.Worker;

/// <summary>
/// Downloads what a job names by URL before the backend runs: the http(s) layers of a freeze, each checked against the
/// size and gzip digest the request gave (which are part of the container id), so that what is built is exactly what was
/// asked for; an http(s) <c>buildContext</c>, checked the same way plus its tar digest and its entries
/// (<see cref="BuildContextTar"/>); and remote context files (a Conda lock file), whose host must pass the outbound-address
/// policy (<c>Wave:Security:AllowedNetworks</c>) and whose size is bounded.
/// </summary>
public sealed class RemoteLayerFetcher(IHttpClientFactory clients, NetworkTargetPolicy policy, IOptions<BuildOptions> buildOptions)
{
    public const string HttpClientName = "wave-remote-layers";

    /// <summary>Largest remote layer fetched into a context (512 MiB); a bigger one fails the build.</summary>
    public const long MaxLayerBytes = 512L * 1024 * 1024;

    /// <returns>The job with the layers in <see cref="BuildJob.BinaryContextFiles"/>, or why one could not be fetched.</returns>
    public async Task<(BuildJob? Job, string? Problem)> FetchAsync(BuildJob job, CancellationToken cancellationToken)
    {
        var client = clients.CreateClient(HttpClientName);
        if (job.BuildContext is { Data: null, Location: { } contextLocation } context)
        {
            var (archive, problem) = await DownloadContextAsync(client, context, contextLocation, cancellationToken);
            if (archive is null)
            {
                return (null, problem);
            }
            job = job with { BuildContext = context with { Data = archive, Location = null } };
        }
        if (job.RemoteFiles.Count > 0)
        {
            var texts = new Dictionary<string, string>(job.ContextFiles, StringComparer.Ordinal);
            foreach (var file in job.RemoteFiles)
            {
                var (text, problem) = await DownloadTextAsync(client, file, cancellationToken);
                if (text is null)
                {
                    return (null, problem);
                }
                texts[file.Path] = text;
            }
            job = job with { ContextFiles = texts, RemoteFiles = [] };
        }
        if (job.RemoteLayers.Count == 0)
        {
            return (job, null);
        }
        var files = new Dictionary<string, byte[]>(job.BinaryContextFiles, StringComparer.Ordinal);
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

    private async Task<(byte[]? Bytes, string? Problem)> DownloadContextAsync(HttpClient client, BuildContextArchive context, Uri location, CancellationToken cancellationToken)
    {
        var where = $"buildContext {location.GetLeftPart(UriPartial.Path)}";
        if (await policy.CheckAsync(location, cancellationToken) is { } refused)
        {
            return (null, $"{where} is not fetched: its host {refused}");
        }
        var (bytes, problem) = await DownloadAsync(client, new RemoteLayer("build context", location, context.GzipDigest, context.GzipSize), cancellationToken);
        if (bytes is null)
        {
            return (null, problem?.Replace($"layer {location.GetLeftPart(UriPartial.Path)}", where, StringComparison.Ordinal));
        }
        var claimed = new ContainerLayer { Location = location.ToString(), GzipDigest = context.GzipDigest, GzipSize = context.GzipSize, TarDigest = context.TarDigest };
        if (LayerVerifier.Verify(bytes, claimed, buildOptions.Value.MaxLayerTarBytes) is { } mismatch)
        {
            return (null, $"{where}: {mismatch.Field} {mismatch.Problem.Replace("data: layer", "fetched archive", StringComparison.Ordinal)}");
        }
        if (BuildContextTar.FindProblem(bytes) is { } entryProblem)
        {
            return (null, $"{where} {entryProblem}");
        }
        return (bytes, null);
    }

    private async Task<(string? Text, string? Problem)> DownloadTextAsync(HttpClient client, RemoteContextFile file, CancellationToken cancellationToken)
    {
        var where = $"{file.Path} from {file.Location.GetLeftPart(UriPartial.Path)}";
        if (await policy.CheckAsync(file.Location, cancellationToken) is { } refused)
        {
            return (null, $"{where} is not fetched: its host {refused}");
        }
        try
        {
            using var response = await client.GetAsync(file.Location, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return (null, $"{where} could not be fetched: HTTP {(int)response.StatusCode}");
            }
            if (response.Content.Headers.ContentLength > file.MaxBytes)
            {
                return (null, $"{where} has {response.Content.Headers.ContentLength} bytes; at most {file.MaxBytes} are fetched");
            }
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            using var buffer = new MemoryStream();
            var chunk = new byte[81920];
            int read;
            while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > file.MaxBytes)
                {
                    return (null, $"{where} has more than {file.MaxBytes} bytes; at most {file.MaxBytes} are fetched");
                }
                buffer.Write(chunk, 0, read);
            }
            try
            {
                return (new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer.GetBuffer(), 0, (int)buffer.Length), null);
            }
            catch (DecoderFallbackException)
            {
                return (null, $"{where} is not UTF-8 text");
            }
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
