using System.Collections.Concurrent;

using Microsoft.AspNetCore.Http;

using Wave.Tests.Infrastructure;

namespace Wave.Tests.Mirrors;

/// <summary>
/// A plain HTTP relay in front of a real test registry, under a registry name of its own, so that a test can see every
/// request a registry receives (which blobs were uploaded, which were only asked about) and make blob downloads slow
/// (a copy that is still running when the test acts). Everything else is passed on unchanged, Authorization included;
/// the registry is told the relay's host, so the upload locations it answers point back through the relay.
/// </summary>
public sealed class RegistryRelay : IAsyncDisposable
{
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "TE", "Trailer", "Host",
    };

    private readonly ScriptedHttpServer _server;
    private readonly ConcurrentQueue<(string Method, string Path)> _requests;

    private RegistryRelay(ScriptedHttpServer server, ConcurrentQueue<(string, string)> requests)
    {
        _server = server;
        _requests = requests;
    }

    /// <summary>As a registry name: <c>127.0.0.1:PORT</c>.</summary>
    public string Host => _server.Host;

    /// <summary>How long each blob GET waits before it is passed on (zero: not at all).</summary>
    public TimeSpan BlobDelay { get; set; }

    private volatile TaskCompletionSource? _blobGate;

    /// <summary>Blob GETs wait from now on until the returned handle is disposed: a copy that is certainly still running.</summary>
    public IDisposable HoldBlobs()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _blobGate = gate;
        return new Release(() =>
        {
            _blobGate = null;
            gate.TrySetResult();
        });
    }

    private sealed class Release(Action release) : IDisposable
    {
        public void Dispose() => release();
    }

    /// <summary>Blob uploads the registry completed (201 to the closing PUT), by digest.</summary>
    public IReadOnlyList<string> UploadsCompleted => [.. _completedUploads];

    private readonly ConcurrentQueue<string> _completedUploads = new();

    /// <summary>Every request relayed, in order: method and path (no query).</summary>
    public IReadOnlyList<(string Method, string Path)> Requests => [.. _requests];

    /// <summary>Closing PUTs of uploads whose digest is <paramref name="digest"/> (the blob was sent).</summary>
    public int UploadsOf(string digest) => _uploadedDigests.Count(d => d == digest);

    private readonly ConcurrentQueue<string> _uploadedDigests = new();

    public static async Task<RegistryRelay> StartAsync(RegistryServer registry)
    {
        var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, AutomaticDecompression = System.Net.DecompressionMethods.None })
        {
            Timeout = TimeSpan.FromMinutes(5),
        };
        var requests = new ConcurrentQueue<(string, string)>();
        RegistryRelay? relay = null;
        var server = await ScriptedHttpServer.StartAsync(async context =>
        {
            var request = context.Request;
            requests.Enqueue((request.Method, request.Path.Value ?? ""));
            if (request.Method == "PUT" && request.Path.Value?.Contains("/blobs/uploads/", StringComparison.Ordinal) == true
                && request.Query["digest"].ToString() is { Length: > 0 } digest)
            {
                relay!._uploadedDigests.Enqueue(digest);
            }
            if (request.Method == "GET" && request.Path.Value?.Contains("/blobs/sha256:", StringComparison.Ordinal) == true)
            {
                if (relay!._blobGate is { } gate)
                {
                    await gate.Task.WaitAsync(context.RequestAborted);
                }
                if (relay.BlobDelay > TimeSpan.Zero)
                {
                    await Task.Delay(relay.BlobDelay, context.RequestAborted);
                }
            }
            var uploadDigest = request.Method == "PUT" && request.Path.Value?.Contains("/blobs/uploads/", StringComparison.Ordinal) == true
                ? request.Query["digest"].ToString() : "";
            using var forward = new HttpRequestMessage(new HttpMethod(request.Method), $"http://{registry.Host}{request.Path}{request.QueryString}");
            if (request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0 || request.Method is "PUT" or "PATCH" or "POST")
            {
                forward.Content = new StreamContent(request.Body);
            }
            foreach (var (name, values) in request.Headers)
            {
                if (HopByHop.Contains(name))
                {
                    continue;
                }
                if (!forward.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)values!) && forward.Content is not null)
                {
                    forward.Content.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)values!);
                }
            }
            forward.Headers.Host = relay!.Host;
            using var answer = await http.SendAsync(forward, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
            context.Response.StatusCode = (int)answer.StatusCode;
            if (answer.StatusCode == System.Net.HttpStatusCode.Created && uploadDigest.Length > 0)
            {
                relay._completedUploads.Enqueue(uploadDigest);
            }
            foreach (var (name, values) in answer.Headers.Concat(answer.Content.Headers))
            {
                if (!HopByHop.Contains(name))
                {
                    context.Response.Headers[name] = values.ToArray();
                }
            }
            if (request.Method != "HEAD")
            {
                await answer.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
            }
        });
        relay = new RegistryRelay(server, requests);
        return relay;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
