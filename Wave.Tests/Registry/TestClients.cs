using System.Collections.Concurrent;
using System.Text.Json;

using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

using Wave.Core.Registry;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Registry;

/// <summary>Registry clients for tests, on a recording handler so a test can see what went over the wire.</summary>
internal static class TestClients
{
    public static (RegistryClient Client, RecordingHandler Wire) Create(IEnumerable<RegistryEndpoint>? registries = null, TimeSpan? timeout = null)
    {
        var wire = new RecordingHandler(new SocketsHttpHandler { AllowAutoRedirect = false });
        var http = new HttpClient(wire) { Timeout = timeout ?? TimeSpan.FromSeconds(30) };
        var options = Options.Create(new RegistryOptions { Registries = [.. registries ?? []] });
        var client = new RegistryClient(http, new ConfiguredRegistryCredentials(options), options, TimeProvider.System, NullLogger<RegistryClient>.Instance);
        return (client, wire);
    }

    public static RegistryEndpoint Login(string host, RegistryCredentials credentials)
        => new() { Host = host, Username = credentials.Username, Password = credentials.Password };

    /// <summary>A client that logs in to the Basic and Bearer test registries.</summary>
    public static (RegistryClient Client, RecordingHandler Wire) ForFixture(TestRegistries registries)
        => Create([Login(registries.Basic.Host, registries.Basic.Credentials!), Login(registries.Bearer.Host, registries.Bearer.Credentials!)]);

    /// <summary>(registry, repository, tag) of an image name like <c>127.0.0.1:5000/base/busybox:v2</c>.</summary>
    public static (string Registry, string Repository, string Tag) Split(string image)
    {
        var slash = image.IndexOf('/', StringComparison.Ordinal);
        var colon = image.LastIndexOf(':');
        return (image[..slash], image[(slash + 1)..colon], image[(colon + 1)..]);
    }

    /// <summary>The manifest digest skopeo sees for an image (an independent client as the reference).</summary>
    public static async Task<string> SkopeoDigestAsync(string image, RegistryCredentials? credentials = null)
    {
        var skopeo = Requirements.Binary("skopeo", "skopeo");
        // {{.Digest}} is the digest of the top-level manifest (the index itself for a multi-arch image).
        List<string> arguments = ["inspect", "--tls-verify=false", "--format", "{{.Digest}}"];
        if (credentials is not null)
        {
            arguments.Add("--creds");
            arguments.Add($"{credentials.Username}:{credentials.Password}");
        }
        arguments.Add("docker://" + image);
        return (await TestProcess.RunAsync(skopeo, arguments)).Trim();
    }

    public static string Field(byte[] json, params string[] path)
    {
        using var document = JsonDocument.Parse(json);
        var element = document.RootElement;
        foreach (var name in path)
        {
            element = int.TryParse(name, out var index) ? element[index] : element.GetProperty(name);
        }
        return element.ToString();
    }
}

/// <summary>Passes requests through, remembering each one's URI and whether it carried Authorization.</summary>
internal sealed class RecordingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private readonly ConcurrentQueue<(Uri Uri, string? Authorization)> _requests = new();

    public IReadOnlyList<(Uri Uri, string? Authorization)> Requests => [.. _requests];

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        _requests.Enqueue((request.RequestUri!, request.Headers.Authorization?.Scheme));
        return base.SendAsync(request, cancellationToken);
    }
}
