using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

using Wave.Api.Containers;
using Wave.Core.Registry;

namespace Wave.Api.Identity;

/// <summary>
/// A user's container registry credentials kept on Seqera Platform: <c>GET {endpoint}/credentials?workspaceId=W</c>
/// lists them (items <c>{id, name, provider, keys: {registry}}</c>; the registry defaults to docker.io), the first
/// <c>container-reg</c> item for the image's registry host is chosen, and <c>GET {endpoint}/credentials/{id}/keys</c>
/// gives its login (<c>{"keys": {"userName", "password"}}</c>; <c>keys</c> may also be that object as a JSON string).
/// A Platform that has no credentials list (404, no workspace named) keeps none. Failures are answered without any of
/// the bodies: only statuses and the endpoint are named.
/// </summary>
public sealed class PlatformCredentialsClient(IHttpClientFactory httpClients)
{
    public const string ContainerRegistryProvider = "container-reg";

    /// <summary>The login Platform keeps for <paramref name="registry"/>, or null when it keeps none.</summary>
    public async Task<RegistryCredentials?> FindAsync(PlatformAccess access, string registry, CancellationToken cancellationToken)
    {
        using var list = await GetJsonAsync(access, "credentials", cancellationToken);
        if (list is null)
        {
            return null;
        }
        if (!list.RootElement.TryGetProperty("credentials", out var items) || items.ValueKind != JsonValueKind.Array)
        {
            throw Unexpected(access, "/credentials", "no credentials array");
        }
        string? id = null;
        foreach (var item in items.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object || Text(item, "provider") != ContainerRegistryProvider)
            {
                continue;
            }
            var host = item.TryGetProperty("keys", out var keys) && keys.ValueKind == JsonValueKind.Object ? Text(keys, "registry") : null;
            if (RegistryAddress.SameRegistry(HostOf(host), registry) && Text(item, "id") is { Length: > 0 } found)
            {
                id = found;
                break;
            }
        }
        if (id is null)
        {
            return null;
        }

        using var answer = await GetJsonAsync(access, $"credentials/{Uri.EscapeDataString(id)}/keys", cancellationToken)
            ?? throw Unexpected(access, "/credentials/{id}/keys", "404 for a credential it listed");
        if (!answer.RootElement.TryGetProperty("keys", out var keysElement))
        {
            throw Unexpected(access, "/credentials/{id}/keys", "no keys");
        }
        JsonDocument? parsed = null;
        try
        {
            var login = keysElement;
            if (keysElement.ValueKind == JsonValueKind.String)
            {
                parsed = JsonDocument.Parse(keysElement.GetString()!);
                login = parsed.RootElement;
            }
            var userName = login.ValueKind == JsonValueKind.Object ? Text(login, "userName") ?? Text(login, "username") : null;
            var password = login.ValueKind == JsonValueKind.Object ? Text(login, "password") : null;
            if (string.IsNullOrEmpty(userName) || password is null)
            {
                throw Unexpected(access, "/credentials/{id}/keys", "no userName and password in keys");
            }
            return new RegistryCredentials(userName, password);
        }
        catch (JsonException)
        {
            throw Unexpected(access, "/credentials/{id}/keys", "keys is not JSON");
        }
        finally
        {
            parsed?.Dispose();
        }
    }

    /// <summary>The JSON answer; null when a Platform without a workspace has no credentials list at all (404).</summary>
    private async Task<JsonDocument?> GetJsonAsync(PlatformAccess access, string path, CancellationToken cancellationToken)
    {
        var uri = access.Endpoint.ToString().TrimEnd('/') + "/" + path;
        if (access.WorkspaceId is { } workspace)
        {
            uri += "?workspaceId=" + workspace.ToString(CultureInfo.InvariantCulture);
        }
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", access.AccessToken);
        request.Headers.Accept.ParseAdd("application/json");
        var shown = "/" + path.Split('/')[0] + (path.Contains('/') ? "/{id}/keys" : "");
        HttpResponseMessage response;
        try
        {
            response = await httpClients.CreateClient(PlatformUserClient.HttpClientName).SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new ApiException(StatusCodes.Status502BadGateway, $"Seqera Platform endpoint {access.Name} is unreachable: {e.Message}", "towerEndpoint");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ApiException(StatusCodes.Status504GatewayTimeout, $"Seqera Platform endpoint {access.Name} did not answer {shown} in time", "towerEndpoint");
        }
        using (response)
        {
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                throw new ApiException(StatusCodes.Status401Unauthorized,
                    $"towerAccessToken was refused by {access.Name} when reading registry credentials ({shown} answered {(int)response.StatusCode})", "towerAccessToken");
            }
            if (response.StatusCode == HttpStatusCode.NotFound && access.WorkspaceId is not null && !path.Contains('/'))
            {
                throw new ApiException(StatusCodes.Status400BadRequest, $"towerWorkspaceId {access.WorkspaceId} is not known to {access.Name}", "towerWorkspaceId");
            }
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }
            if (!response.IsSuccessStatusCode)
            {
                throw new ApiException(StatusCodes.Status502BadGateway, $"Seqera Platform endpoint {access.Name} answered {(int)response.StatusCode} to {shown}", "towerEndpoint");
            }
            try
            {
                await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
                var document = await JsonDocument.ParseAsync(body, cancellationToken: cancellationToken);
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    document.Dispose();
                    throw Unexpected(access, shown, "not a JSON object");
                }
                return document;
            }
            catch (JsonException)
            {
                // Not e.Message: it may quote the body, which for /keys holds a password.
                throw Unexpected(access, shown, "not JSON");
            }
        }
    }

    /// <summary>Platform keeps what the user typed: <c>quay.io</c>, <c>https://quay.io/</c>; empty means Docker Hub.</summary>
    private static string HostOf(string? registry)
    {
        if (string.IsNullOrWhiteSpace(registry))
        {
            return "docker.io";
        }
        var host = registry.Trim();
        var scheme = host.IndexOf("://", StringComparison.Ordinal);
        host = scheme >= 0 ? host[(scheme + 3)..] : host;
        var slash = host.IndexOf('/');
        return slash >= 0 ? host[..slash] : host;
    }

    private static ApiException Unexpected(PlatformAccess access, string path, string problem) =>
        new(StatusCodes.Status502BadGateway, $"Seqera Platform endpoint {access.Name} answered {path} with an unexpected body: {problem}", "towerEndpoint");

    private static string? Text(JsonElement element, string name) => element.TryGetProperty(name, out var value) ? value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.GetRawText(),
        _ => null,
    } : null;
}
