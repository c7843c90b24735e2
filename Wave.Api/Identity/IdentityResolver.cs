using System.Security.Cryptography;
using System.Text;

using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

using Wave.Api.Containers;
using Wave.Core.Identity;
using Wave.Core.Security;

namespace Wave.Api.Identity;

/// <summary>
/// Resolves the caller: a <c>towerAccessToken</c> is checked against its Platform endpoint (cached briefly, keyed by a
/// hash of the token, never the token itself); otherwise an <c>Authorization: Bearer</c> API key from configuration;
/// otherwise anonymous (null).
/// </summary>
public sealed class IdentityResolver(PlatformUserClient platform, IOptions<IdentityOptions> options, NetworkTargetPolicy policy, IMemoryCache cache)
{
    private readonly Dictionary<string, ApiKeyEntry> _apiKeys = options.Value.ApiKeys
        .Where(k => k.KeySha256.Length > 0)
        .ToDictionary(k => k.KeySha256.ToLowerInvariant(), StringComparer.Ordinal);

    public async Task<WaveUser?> ResolveAsync(HttpContext context, string? towerAccessToken, string? towerEndpoint, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(towerAccessToken))
        {
            var endpoint = ParseEndpoint(towerEndpoint ?? options.Value.DefaultPlatformEndpoint);
            if (await policy.CheckHostAsync(endpoint.Host, cancellationToken) is { } refusal)
            {
                throw ApiException.BadRequest("towerEndpoint", $"'{endpoint.GetLeftPart(UriPartial.Authority)}' {refusal}");
            }
            var key = $"platform-user:{endpoint}:{Sha256(towerAccessToken)}";
            if (cache.TryGetValue(key, out WaveUser? cached))
            {
                return cached;
            }
            var user = await platform.GetUserAsync(endpoint, towerAccessToken, cancellationToken);
            cache.Set(key, user, options.Value.UserCacheTime);
            return user;
        }
        var authorization = context.Request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var presented = Sha256(authorization["Bearer ".Length..].Trim());
            if (!_apiKeys.TryGetValue(presented, out var entry))
            {
                throw new ApiException(StatusCodes.Status401Unauthorized, "the API key in the Authorization header is not known to this Wave service");
            }
            return new WaveUser("apikey:" + entry.UserName, entry.UserName, entry.Email);
        }
        return null;
    }

    /// <summary>
    /// The Platform access a request carries (token, endpoint, workspace), or null without an access token. Call after
    /// <see cref="ResolveAsync"/>, which has checked the endpoint against the network policy and the token.
    /// </summary>
    public PlatformAccess? PlatformAccessFor(SubmitContainerTokenRequest body) => string.IsNullOrEmpty(body.TowerAccessToken)
        ? null
        : new PlatformAccess(ParseEndpoint(body.TowerEndpoint ?? options.Value.DefaultPlatformEndpoint), body.TowerAccessToken, body.TowerWorkspaceId);

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
