using System.Net.Http.Headers;
using System.Text;

using Wave.Core.Security;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Records;

internal static class RecordsTestSupport
{
    public const string AdminPassword = "admin-pw-for-revocation";

    /// <summary>Registry credentials (as the other end-to-end tests) and one admin account.</summary>
    public static Dictionary<string, string?> Settings(TestRegistries registries, Dictionary<string, string?>? extra = null)
    {
        var settings = WaveFixture.RegistrySettings(registries);
        settings["Wave:Admin:Accounts:0:UserName"] = "admin";
        settings["Wave:Admin:Accounts:0:PasswordHash"] = PasswordHash.Create(AdminPassword, iterations: 1000);
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }
        return settings;
    }

    public static async Task<ApiAnswer> GetAsync(this WaveTestHost wave, string path)
    {
        using var response = await wave.Client.GetAsync(path, TestContext.Current.CancellationToken);
        return await WaveApi.ReadAsync(response);
    }

    public static async Task<(ApiAnswer Answer, string? Challenge)> RevokeAsync(this WaveTestHost wave, string token, string? user = "admin", string password = AdminPassword)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, $"/container-token/{token}");
        if (user is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        }
        using var response = await wave.Client.SendAsync(request, TestContext.Current.CancellationToken);
        return (await WaveApi.ReadAsync(response), response.Headers.WwwAuthenticate.ToString());
    }

    /// <summary>GET of the target image's tag through Wave's /v2/ (status, OCI error body, digest header).</summary>
    public static async Task<(int Status, string Body, string? Digest)> PullManifestAsync(this WaveTestHost wave, string targetImage)
    {
        var name = targetImage[(targetImage.IndexOf('/') + 1)..];
        var colon = name.LastIndexOf(':');
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/{name[..colon]}/manifests/{name[(colon + 1)..]}");
        request.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json");
        using var response = await wave.Client.SendAsync(request, TestContext.Current.CancellationToken);
        var digest = response.Headers.TryGetValues("Docker-Content-Digest", out var values) ? values.First() : null;
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), digest);
    }

    public static Task<string> SkopeoAsync(params string[] args) =>
        TestProcess.RunAsync(Requirements.Binary("skopeo", "skopeo"), args);
}
