using System.Security.Cryptography;
using System.Text;

using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

using Wave.Api.Containers;
using Wave.Core.Concurrency;
using Wave.Core.Identity;
using Wave.Core.Security;

namespace Wave.Api.Identity;

/// <summary>Who a request comes from, and the Seqera Platform access it brought (null without a Platform token).</summary>
public sealed record Caller(WaveUser? User, PlatformAccess? Platform)
{
    public static readonly Caller Anonymous = new(null, null);
}

/// <summary>
/// Resolves the caller: a <c>towerAccessToken</c> is checked against its Platform endpoint (cached briefly, keyed by a
/// hash of the token, never the token itself); otherwise an <c>Authorization: Bearer</c> API key from configuration;
/// otherwise anonymous.
/// <para>
/// An access token Platform refuses with 401 is refreshed with the request's <c>towerRefreshToken</c>, as the Wave
/// server does (<c>POST {endpoint}/oauth/access_token</c>); the new pair is kept (<see cref="PlatformTokenStore"/>) under
/// the token the client sent, so that a client resending its stale token is served with the fresh one. nf-wave also
/// sends its Platform token as <c>Authorization: Bearer</c> beside the body, and after refreshing it itself resends the
/// same body with only the header renewed: that header is tried when the body's token is refused.
/// </para>
/// </summary>
public sealed class IdentityResolver(
    PlatformUserClient platform,
    PlatformTokenStore tokens,
    IOptions<IdentityOptions> options,
    NetworkTargetPolicy policy,
    IMemoryCache cache)
{
    private readonly Dictionary<string, ApiKeyEntry> _apiKeys = options.Value.ApiKeys
        .Where(k => k.KeySha256.Length > 0)
        .ToDictionary(k => k.KeySha256.ToLowerInvariant(), StringComparer.Ordinal);

    // Concurrent requests with the same stale token share one refresh: Platform may rotate the refresh token.
    private readonly SingleFlight<string, PlatformTokens> _refreshing = new();

    public async Task<Caller> ResolveAsync(HttpContext context, string? towerAccessToken, string? towerRefreshToken, string? towerEndpoint,
        CancellationToken cancellationToken, long? workspaceId = null)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        var bearer = authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization["Bearer ".Length..].Trim() : null;
        if (!string.IsNullOrEmpty(towerAccessToken))
        {
            var endpoint = ParseEndpoint(towerEndpoint ?? options.Value.DefaultPlatformEndpoint);
            if (await policy.CheckAsync(endpoint, cancellationToken) is { } refusal)
            {
                throw ApiException.BadRequest("towerEndpoint", $"'{endpoint.GetLeftPart(UriPartial.Authority)}' {refusal}");
            }
            try
            {
                return await ResolvePlatformAsync(endpoint, towerAccessToken, towerRefreshToken, workspaceId, cancellationToken);
            }
            catch (ApiException e) when (e.StatusCode == StatusCodes.Status401Unauthorized
                && bearer is { Length: > 0 } && bearer != towerAccessToken && !_apiKeys.ContainsKey(Sha256(bearer)))
            {
                return await ResolvePlatformAsync(endpoint, bearer, towerRefreshToken, workspaceId, cancellationToken);
            }
        }
        if (bearer is not null)
        {
            if (!_apiKeys.TryGetValue(Sha256(bearer), out var entry))
            {
                throw new ApiException(StatusCodes.Status401Unauthorized, "the API key in the Authorization header is not known to this Wave service");
            }
            return new Caller(new WaveUser("apikey:" + entry.UserName, entry.UserName, entry.Email), null);
        }
        return Caller.Anonymous;
    }

    private async Task<Caller> ResolvePlatformAsync(Uri endpoint, string sentToken, string? sentRefresh, long? workspaceId, CancellationToken cancellationToken)
    {
        var key = PlatformTokenStore.KeyOf(endpoint, sentToken);
        var current = await tokens.FindAsync(key, cancellationToken) ?? new PlatformTokens(sentToken, sentRefresh);
        WaveUser user;
        try
        {
            user = await GetUserAsync(endpoint, current.AccessToken, cancellationToken);
        }
        catch (ApiException e) when (e.StatusCode == StatusCodes.Status401Unauthorized && (current.RefreshToken ?? sentRefresh) is { Length: > 0 } refresh)
        {
            current = await _refreshing.RunAsync(key, async _ =>
            {
                var renewed = await platform.RefreshAsync(endpoint, refresh, CancellationToken.None);
                await tokens.SaveAsync(key, renewed, CancellationToken.None);
                return renewed;
            }, cancellationToken);
            user = await GetUserAsync(endpoint, current.AccessToken, cancellationToken);
        }
        return new Caller(user, new PlatformAccess(endpoint, current.AccessToken, workspaceId));
    }

    private async Task<WaveUser> GetUserAsync(Uri endpoint, string accessToken, CancellationToken cancellationToken)
    {
        var key = $"platform-user:{endpoint}:{Sha256(accessToken)}";
        if (cache.TryGetValue(key, out WaveUser? cached) && cached is not null)
        {
            return cached;
        }
        var user = await platform.GetUserAsync(endpoint, accessToken, cancellationToken);
        cache.Set(key, user, options.Value.UserCacheTime);
        return user;
    }

    private static Uri ParseEndpoint(string endpoint)
    {
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            throw ApiException.BadRequest("towerEndpoint", $"'{endpoint}' is not an http(s) URL");
        }
        return uri;
    }

    private static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
