using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

using Wave.Tests.Infrastructure;

[assembly: AssemblyFixture(typeof(Wave.Tests.EndToEnd.WaveFixture))]

namespace Wave.Tests.EndToEnd;

/// <summary>One embedded Wave host per test run, configured with the credentials of the private test registries.</summary>
public sealed class WaveFixture : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private Task<WaveTestHost>? _embedded;

    public Task<WaveTestHost> GetEmbeddedAsync(TestRegistries registries)
    {
        lock (_gate)
        {
            return _embedded ??= WaveTestHost.StartAsync(WaveRole.Embedded, RegistrySettings(registries));
        }
    }

    /// <summary>Wave:Registries entries holding the credentials of the Basic and Bearer test registries.</summary>
    public static Dictionary<string, string?> RegistrySettings(TestRegistries registries)
    {
        // The test registries are on loopback: allow it for the endpoints that refuse private targets (validate-creds).
        var settings = new Dictionary<string, string?> { ["Wave:Security:AllowedNetworks:0"] = "127.0.0.0/8" };
        var i = 0;
        foreach (var registry in new[] { registries.Basic, registries.Bearer })
        {
            settings[$"Wave:Registries:{i}:Host"] = registry.Host;
            settings[$"Wave:Registries:{i}:Username"] = registry.Credentials!.Username;
            settings[$"Wave:Registries:{i}:Password"] = registry.Credentials!.Password;
            i++;
        }
        return settings;
    }

    public async ValueTask DisposeAsync()
    {
        if (_embedded is { IsCompletedSuccessfully: true })
        {
            await _embedded.Result.DisposeAsync();
        }
    }
}

/// <summary>The answer of a Wave API call: status and JSON body.</summary>
public sealed record ApiAnswer(int Status, JsonNode? Body, string Text)
{
    public string Message => Body?["message"]?.GetValue<string>() ?? Text;
    public string? Field => Body?["field"]?.GetValue<string>();
    public string TargetImage => Body?["targetImage"]?.GetValue<string>() ?? throw new InvalidOperationException($"no targetImage in {Status}: {Text}");
    public string Token => Body?["containerToken"]?.GetValue<string>() ?? throw new InvalidOperationException($"no containerToken in {Status}: {Text}");
}

public static class WaveApi
{
    public static Task<ApiAnswer> PostContainerAsync(this HttpClient client, object request) => client.PostJsonAsync("/v1alpha2/container", request);

    public static Task<ApiAnswer> PostContainerTokenAsync(this HttpClient client, object request) => client.PostJsonAsync("/container-token", request);

    public static async Task<ApiAnswer> PostJsonAsync(this HttpClient client, string path, object request)
    {
        using var response = await client.PostAsJsonAsync(path, request, new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        });
        return await ReadAsync(response);
    }

    public static async Task<ApiAnswer> ReadAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        JsonNode? body = null;
        try
        {
            body = text.Length > 0 ? JsonNode.Parse(text) : null;
        }
        catch (JsonException)
        {
        }
        return new ApiAnswer((int)response.StatusCode, body, text);
    }
}
