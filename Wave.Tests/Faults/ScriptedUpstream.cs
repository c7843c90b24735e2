using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

using Microsoft.AspNetCore.Http;

using Wave.Tests.Infrastructure;

namespace Wave.Tests.Faults;

/// <summary>How a <see cref="ScriptedUpstream"/> misbehaves; <see cref="Honest"/> serves a valid image.</summary>
public enum UpstreamFault
{
    Honest,
    /// <summary>Manifest GETs answer other bytes than the digest they are asked for (and announce).</summary>
    WrongManifestDigest,
    /// <summary>Blobs come back short, with a Content-Length that matches the short body.</summary>
    TruncatedBlobs,
    /// <summary>Blobs announce their full length, then the connection closes halfway.</summary>
    BlobsCutMidBody,
    /// <summary>The manifest is not JSON (its digest is honest: the bytes are what the registry stores).</summary>
    InvalidJsonManifest,
    /// <summary>The manifest's descriptors state sizes that the blobs do not have.</summary>
    ManifestLiesAboutSizes,
    /// <summary>The manifest response announces a Content-Length larger than its body.</summary>
    ManifestLiesAboutContentLength,
}

/// <summary>
/// A registry for one image (<c>faulty/image:v1</c>: a Docker v2 manifest, a config and one layer) whose answers a
/// test can spoil and repair while Wave talks to it. Real Kestrel on a loopback port.
/// </summary>
public sealed class ScriptedUpstream : IAsyncDisposable
{
    public const string Repository = "faulty/image";
    public const string Tag = "v1";
    private const string ManifestType = "application/vnd.docker.distribution.manifest.v2+json";

    private readonly ScriptedHttpServer _server;

    private ScriptedUpstream(ScriptedHttpServer server, TestLayer layer, byte[] config, byte[] manifest, byte[] lyingManifest)
    {
        _server = server;
        Layer = layer;
        Config = config;
        Manifest = manifest;
        LyingManifest = lyingManifest;
    }

    public UpstreamFault Fault { get; set; }
    public TestLayer Layer { get; }
    public byte[] Config { get; }
    public byte[] Manifest { get; }
    public byte[] LyingManifest { get; }
    public string Host => _server.Host;
    public string Image => $"{Host}/{Repository}:{Tag}";
    public IReadOnlyList<ReceivedRequest> Received => _server.Received;

    public static string Sha256(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static async Task<ScriptedUpstream> StartAsync(string content)
    {
        var layer = TestLayer.Create(new Dictionary<string, string> { ["upstream/file.txt"] = content });
        var config = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["config"] = new JsonObject { ["Cmd"] = new JsonArray("sh") },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(layer.TarDigest) },
        }.ToJsonString());
        var manifest = ManifestBytes(config, config.Length, layer, layer.Gzip.Length);
        var lying = ManifestBytes(config, config.Length + 7, layer, layer.Gzip.Length + 1000);
        ScriptedUpstream? upstream = null;
        var server = await ScriptedHttpServer.StartAsync(context => upstream!.HandleAsync(context));
        upstream = new ScriptedUpstream(server, layer, config, manifest, lying);
        return upstream;
    }

    private static byte[] ManifestBytes(byte[] config, long configSize, TestLayer layer, long layerSize) => Encoding.UTF8.GetBytes(new JsonObject
    {
        ["schemaVersion"] = 2,
        ["mediaType"] = ManifestType,
        ["config"] = new JsonObject { ["mediaType"] = "application/vnd.docker.container.image.v1+json", ["size"] = configSize, ["digest"] = Sha256(config) },
        ["layers"] = new JsonArray(new JsonObject
        {
            ["mediaType"] = "application/vnd.docker.image.rootfs.diff.tar.gzip",
            ["size"] = layerSize,
            ["digest"] = layer.GzipDigest,
        }),
    }.ToJsonString());

    private byte[] CurrentManifest => Fault switch
    {
        UpstreamFault.InvalidJsonManifest => "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\", \"config\": {"u8.ToArray(),
        UpstreamFault.ManifestLiesAboutSizes => LyingManifest,
        _ => Manifest,
    };

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        var response = context.Response;
        if (path == "/v2/")
        {
            await response.WriteAsJsonAsync(new { });
            return;
        }
        var manifests = $"/v2/{Repository}/manifests/";
        var blobs = $"/v2/{Repository}/blobs/";
        var head = HttpMethods.IsHead(context.Request.Method);
        if (path.StartsWith(manifests, StringComparison.Ordinal))
        {
            var reference = path[manifests.Length..];
            var manifest = CurrentManifest;
            var digest = Sha256(manifest);
            if (reference != Tag && reference != digest && !(Fault == UpstreamFault.WrongManifestDigest && reference.StartsWith("sha256:", StringComparison.Ordinal)))
            {
                response.StatusCode = 404;
                await response.WriteAsJsonAsync(new { errors = new[] { new { code = "MANIFEST_UNKNOWN", message = "unknown" } } });
                return;
            }
            if (Fault == UpstreamFault.WrongManifestDigest)
            {
                // Other bytes than the digest asked for and announced: the same manifest with a trailing space.
                digest = reference.StartsWith("sha256:", StringComparison.Ordinal) ? reference : digest;
                manifest = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(manifest) + " ");
            }
            response.ContentType = ManifestType;
            response.Headers["Docker-Content-Digest"] = digest;
            response.ContentLength = manifest.Length + (Fault == UpstreamFault.ManifestLiesAboutContentLength ? 100 : 0);
            if (!head)
            {
                await response.Body.WriteAsync(manifest);
                if (Fault == UpstreamFault.ManifestLiesAboutContentLength)
                {
                    await response.Body.FlushAsync();
                    context.Abort();
                }
            }
            return;
        }
        if (path.StartsWith(blobs, StringComparison.Ordinal))
        {
            var digest = path[blobs.Length..];
            byte[]? blob = digest == Sha256(Config) ? Config : digest == Layer.GzipDigest ? Layer.Gzip : null;
            if (blob is null)
            {
                response.StatusCode = 404;
                await response.WriteAsJsonAsync(new { errors = new[] { new { code = "BLOB_UNKNOWN", message = "unknown" } } });
                return;
            }
            response.ContentType = "application/octet-stream";
            response.Headers["Docker-Content-Digest"] = digest;
            switch (Fault)
            {
                case UpstreamFault.TruncatedBlobs:
                    response.ContentLength = blob.Length / 2;
                    if (!head)
                    {
                        await response.Body.WriteAsync(blob.AsMemory(0, blob.Length / 2));
                    }
                    return;
                case UpstreamFault.BlobsCutMidBody:
                    response.ContentLength = blob.Length;
                    if (!head)
                    {
                        await response.Body.WriteAsync(blob.AsMemory(0, blob.Length / 2));
                        await response.Body.FlushAsync();
                        context.Abort();
                    }
                    return;
                default:
                    response.ContentLength = blob.Length;
                    if (!head)
                    {
                        await response.Body.WriteAsync(blob);
                    }
                    return;
            }
        }
        response.StatusCode = 404;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
