using System.Collections.Concurrent;
using System.Text.Json;

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

using Wave.Core.Registry;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Registry;

/// <summary>
/// Registry clients for tests, made as a service makes its one (the service defaults' HttpClient pipeline: resilience
/// and service discovery), with a recording handler inside the pipeline so a test sees every attempt that went over the wire.
/// </summary>
internal static class TestClients
{
    public static (RegistryClient Client, RecordingHandler Wire) Create(IEnumerable<RegistryEndpoint>? registries = null, TimeSpan? timeout = null,
        IDictionary<string, string?>? settings = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings ?? new Dictionary<string, string?>()).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddWaveHttpClientDefaults(configuration);
        services.AddRegistryClient();
        var wire = new RecordingHandler();
        services.AddHttpClient(RegistryServiceCollectionExtensions.HttpClientName)
            .ConfigureHttpClient(http => http.Timeout = timeout ?? TimeSpan.FromSeconds(30))
            .AddHttpMessageHandler(() => wire);
        services.Configure<RegistryOptions>(options => options.Registries = [.. registries ?? []]);
        var provider = services.BuildServiceProvider();
        return (provider.GetRequiredService<RegistryClient>(), wire);
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

/// <summary>Passes requests through, remembering each one's method, URI and whether it carried Authorization.</summary>
internal sealed class RecordingHandler : DelegatingHandler
{
    private readonly ConcurrentQueue<(Uri Uri, string? Authorization, HttpMethod Method)> _requests = new();

    public IReadOnlyList<(Uri Uri, string? Authorization, HttpMethod Method)> Requests => [.. _requests];

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        _requests.Enqueue((request.RequestUri!, request.Headers.Authorization?.Scheme, request.Method));
        return base.SendAsync(request, cancellationToken);
    }
}
