using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Wave.Tests.Infrastructure;

/// <summary>
/// Puts arbitrary bytes into a test registry over the distribution HTTP API — monolithic blob upload (POST then PUT)
/// and manifest PUT — so tests can serve content that no image tool would produce (malformed upstreams).
/// Speaks Basic or Bearer auth with the server's credentials.
/// </summary>
public sealed partial class RegistryPusher(RegistryServer server) : IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false });
    private readonly Uri _base = new($"http://{server.Host}/");

    public static string Sha256(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    /// <summary>Uploads a blob; returns its digest.</summary>
    public async Task<string> PushBlobAsync(string repository, byte[] content, CancellationToken cancellationToken = default)
    {
        var digest = Sha256(content);
        using var start = await SendAsync(repository, () => new HttpRequestMessage(HttpMethod.Post, new Uri(_base, $"v2/{repository}/blobs/uploads/")), cancellationToken);
        await EnsureAsync(start, HttpStatusCode.Accepted, "blob upload start");
        var location = start.Headers.Location ?? throw new InvalidOperationException("blob upload start answered without a Location");
        var upload = location.IsAbsoluteUri ? location : new Uri(_base, location);
        var separator = upload.Query.Length > 0 ? "&" : "?";
        var put = new Uri(upload + separator + "digest=" + Uri.EscapeDataString(digest));
        using var finish = await SendAsync(repository, () =>
        {
            var message = new HttpRequestMessage(HttpMethod.Put, put) { Content = new ByteArrayContent(content) };
            message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            return message;
        }, cancellationToken);
        await EnsureAsync(finish, HttpStatusCode.Created, $"blob upload of {digest}");
        return digest;
    }

    /// <summary>Stores a manifest under a tag (or its digest); returns its digest.</summary>
    public async Task<string> PushManifestAsync(string repository, string reference, byte[] content, string mediaType, CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(repository, () =>
        {
            var message = new HttpRequestMessage(HttpMethod.Put, new Uri(_base, $"v2/{repository}/manifests/{reference}")) { Content = new ByteArrayContent(content) };
            message.Content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
            return message;
        }, cancellationToken);
        await EnsureAsync(response, HttpStatusCode.Created, $"manifest {repository}:{reference}");
        return Sha256(content);
    }

    /// <summary>
    /// A linux/amd64 Docker v2 image of the given layers (their bytes stand for gzip tars; registries do not look) and a
    /// minimal config, under a tag; returns the layers' digests in order.
    /// </summary>
    public async Task<IReadOnlyList<string>> PushImageAsync(string repository, string tag, IReadOnlyList<byte[]> layers, CancellationToken cancellationToken = default)
    {
        var digests = new List<string>();
        foreach (var layer in layers)
        {
            digests.Add(await PushBlobAsync(repository, layer, cancellationToken));
        }
        var config = JsonSerializer.SerializeToUtf8Bytes(new
        {
            architecture = "amd64",
            os = "linux",
            rootfs = new { type = "layers", diff_ids = digests },
        });
        var configDigest = await PushBlobAsync(repository, config, cancellationToken);
        var manifest = JsonSerializer.SerializeToUtf8Bytes(new
        {
            schemaVersion = 2,
            mediaType = DockerManifest,
            config = new { mediaType = "application/vnd.docker.container.image.v1+json", size = config.Length, digest = configDigest },
            layers = layers.Zip(digests, (layer, digest) => new { mediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip", size = layer.Length, digest }),
        });
        await PushManifestAsync(repository, tag, manifest, DockerManifest, cancellationToken);
        return digests;
    }

    private const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

    private async Task<HttpResponseMessage> SendAsync(string repository, Func<HttpRequestMessage> message, CancellationToken cancellationToken)
    {
        var first = await _http.SendAsync(message(), cancellationToken);
        if (first.StatusCode != HttpStatusCode.Unauthorized || server.Credentials is null)
        {
            return first;
        }
        var challenge = first.Headers.WwwAuthenticate.FirstOrDefault();
        first.Dispose();
        var basic = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{server.Credentials.Username}:{server.Credentials.Password}")));
        var authorization = basic;
        if (challenge?.Scheme == "Bearer")
        {
            var parameters = ChallengeParameter().Matches(challenge.Parameter ?? "").ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
            var tokenUri = $"{parameters["realm"]}?service={Uri.EscapeDataString(parameters.GetValueOrDefault("service", ""))}" +
                $"&scope={Uri.EscapeDataString($"repository:{repository}:pull,push")}";
            using var tokenRequest = new HttpRequestMessage(HttpMethod.Get, tokenUri) { Headers = { Authorization = basic } };
            using var tokenResponse = await _http.SendAsync(tokenRequest, cancellationToken);
            await EnsureAsync(tokenResponse, HttpStatusCode.OK, "token request");
            using var json = JsonDocument.Parse(await tokenResponse.Content.ReadAsStringAsync(cancellationToken));
            authorization = new AuthenticationHeaderValue("Bearer", json.RootElement.GetProperty("token").GetString());
        }
        var retry = message();
        retry.Headers.Authorization = authorization;
        return await _http.SendAsync(retry, cancellationToken);
    }

    private static async Task EnsureAsync(HttpResponseMessage response, HttpStatusCode expected, string what)
    {
        if (response.StatusCode != expected)
        {
            throw new InvalidOperationException($"{what} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    [GeneratedRegex("(\\w+)=\"([^\"]*)\"")]
    private static partial Regex ChallengeParameter();

    public void Dispose() => _http.Dispose();
}
