using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;

using Wave.Api.Containers;
using Wave.Core.Identity;

namespace Wave.Api.Identity;

/// <summary>Asks a Seqera-Platform-compatible endpoint who an access token belongs to (<c>GET {endpoint}/user-info</c>).</summary>
public sealed class PlatformUserClient(IHttpClientFactory httpClients)
{
    public const string HttpClientName = "platform";

    private sealed record UserInfo([property: JsonPropertyName("user")] PlatformUser? User);

    private sealed record PlatformUser(
        [property: JsonPropertyName("id")] JsonElement Id,
        [property: JsonPropertyName("userName")] string? UserName,
        [property: JsonPropertyName("email")] string? Email);

    public async Task<WaveUser> GetUserAsync(Uri endpoint, string accessToken, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(endpoint.ToString().TrimEnd('/') + "/user-info"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        request.Headers.Accept.ParseAdd("application/json");
        HttpResponseMessage response;
        try
        {
            response = await httpClients.CreateClient(HttpClientName).SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new ApiException(StatusCodes.Status502BadGateway, $"Seqera Platform endpoint {endpoint.GetLeftPart(UriPartial.Authority)} is unreachable: {e.Message}", "towerEndpoint");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ApiException(StatusCodes.Status504GatewayTimeout, $"Seqera Platform endpoint {endpoint.GetLeftPart(UriPartial.Authority)} did not answer in time", "towerEndpoint");
        }
        using (response)
        {
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                throw new ApiException(StatusCodes.Status401Unauthorized, $"towerAccessToken was refused by {endpoint.GetLeftPart(UriPartial.Authority)}: it is invalid or expired", "towerAccessToken");
            }
            if (!response.IsSuccessStatusCode)
            {
                throw new ApiException(StatusCodes.Status502BadGateway, $"Seqera Platform endpoint {endpoint.GetLeftPart(UriPartial.Authority)} answered {(int)response.StatusCode} to /user-info", "towerEndpoint");
            }
            try
            {
                var info = await response.Content.ReadFromJsonAsync<UserInfo>(cancellationToken);
                var user = info?.User;
                if (user is null || string.IsNullOrEmpty(user.UserName) || user.Id.ValueKind is not (JsonValueKind.Number or JsonValueKind.String))
                {
                    throw new JsonException("no user with id and userName");
                }
                return new WaveUser(user.Id.ToString(), user.UserName, user.Email);
            }
            catch (JsonException e)
            {
                throw new ApiException(StatusCodes.Status502BadGateway, $"Seqera Platform endpoint {endpoint.GetLeftPart(UriPartial.Authority)} answered /user-info with an unexpected body: {e.Message}", "towerEndpoint");
            }
        }
    }

    /// <summary>
    /// Renews an expired access token as the Wave server does: <c>POST {endpoint}/oauth/access_token</c> with
    /// <c>grant_type=refresh_token</c>; Platform answers the new tokens as the cookies <c>JWT</c> and
    /// <c>JWT_REFRESH_TOKEN</c> (the refresh token is kept when it sends none). Failures name the endpoint and status
    /// only: neither token nor body is ever part of a message.
    /// </summary>
    public async Task<PlatformTokens> RefreshAsync(Uri endpoint, string refreshToken, CancellationToken cancellationToken)
    {
        var name = endpoint.GetLeftPart(UriPartial.Authority);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(endpoint.ToString().TrimEnd('/') + "/oauth/access_token"))
        {
            Content = new FormUrlEncodedContent([new("grant_type", "refresh_token"), new("refresh_token", refreshToken)]),
        };
        HttpResponseMessage response;
        try
        {
            response = await httpClients.CreateClient(HttpClientName).SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new ApiException(StatusCodes.Status502BadGateway, $"Seqera Platform endpoint {name} is unreachable: {e.Message}", "towerEndpoint");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ApiException(StatusCodes.Status504GatewayTimeout, $"Seqera Platform endpoint {name} did not answer in time", "towerEndpoint");
        }
        using (response)
        {
            if ((int)response.StatusCode >= 400)
            {
                throw new ApiException(StatusCodes.Status401Unauthorized,
                    $"towerAccessToken was refused by {name} and towerRefreshToken could not renew it (/oauth/access_token answered {(int)response.StatusCode})", "towerRefreshToken");
            }
            string? access = null;
            string? refresh = null;
            foreach (var cookie in response.Headers.TryGetValues("Set-Cookie", out var values) ? values : [])
            {
                var pair = cookie.Split(';', 2)[0];
                var equals = pair.IndexOf('=');
                if (equals <= 0)
                {
                    continue;
                }
                var (cookieName, value) = (pair[..equals].Trim(), pair[(equals + 1)..].Trim());
                access ??= cookieName == "JWT" ? value : null;
                refresh ??= cookieName == "JWT_REFRESH_TOKEN" ? value : null;
            }
            if (string.IsNullOrEmpty(access))
            {
                throw new ApiException(StatusCodes.Status502BadGateway, $"Seqera Platform endpoint {name} renewed the token without a JWT cookie", "towerEndpoint");
            }
            return new PlatformTokens(access, string.IsNullOrEmpty(refresh) ? refreshToken : refresh);
        }
    }
}
