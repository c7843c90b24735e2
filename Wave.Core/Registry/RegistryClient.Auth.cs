using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Wave.Core.Registry;

public sealed partial class RegistryClient
{
    private static readonly TimeSpan DefaultTokenLifetime = TimeSpan.FromSeconds(60);
    private const int MaxTokenResponseBytes = 1024 * 1024;

    /// <summary>The challenge each registry answered with last: later requests authorize up front instead of probing anonymously.</summary>
    private readonly ConcurrentDictionary<string, AuthChallenge> _knownChallenges = new(StringComparer.OrdinalIgnoreCase);

    private readonly ConcurrentDictionary<TokenKey, CachedToken> _tokens = new();

    /// <summary><see cref="Identity"/>: a hash of the credentials, so a token fetched with one password is never served for another.</summary>
    private sealed record TokenKey(string Registry, string Realm, string? Service, string? Scope, string? Identity);

    private sealed record CachedToken(string Token, DateTimeOffset ExpiresAt);

    private async Task<AuthenticationHeaderValue?> AuthorizationForAsync(string registry, AuthChallenge challenge, string? scope, RegistryCredentials? credentials, CancellationToken cancellationToken)
    {
        if (challenge.IsBasic)
        {
            return credentials is null ? null : BasicAuthorization(credentials);
        }
        if (challenge.IsBearer)
        {
            var token = await BearerTokenAsync(registry, challenge, scope, credentials, cancellationToken);
            return new AuthenticationHeaderValue("Bearer", token);
        }
        throw new RegistryException(RegistryErrorKind.Unauthorized, registry, $"registry {registry} asks for unsupported authentication scheme {challenge.Scheme}");
    }

    private static string? IdentityOf(RegistryCredentials? credentials) => credentials is null
        ? null
        : Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes($"{credentials.Username}\n{credentials.Password}")));

    private static AuthenticationHeaderValue BasicAuthorization(RegistryCredentials credentials)
        => new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials.Username}:{credentials.Password}")));

    private async Task<string> BearerTokenAsync(string registry, AuthChallenge challenge, string? scope, RegistryCredentials? credentials, CancellationToken cancellationToken)
    {
        var realm = challenge["realm"]
            ?? throw new RegistryException(RegistryErrorKind.InvalidResponse, registry, $"registry {registry} sent a Bearer challenge without a realm");
        var key = new TokenKey(registry.ToLowerInvariant(), realm, challenge["service"], scope, IdentityOf(credentials));
        if (_tokens.TryGetValue(key, out var cached) && cached.ExpiresAt > _time.GetUtcNow())
        {
            return cached.Token;
        }
        var (token, lifetime) = await FetchBearerTokenAsync(registry, realm, challenge["service"], scope, credentials, cancellationToken);
        // Renew a little early so a token does not expire between the cache lookup and the registry's check.
        var margin = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(5).Ticks, lifetime.Ticks / 2));
        _tokens[key] = new CachedToken(token, _time.GetUtcNow() + lifetime - margin);
        return token;
    }

    /// <summary>GET realm?service=&amp;scope= (RFC 6750 style token service of the distribution spec), with Basic credentials if any.</summary>
    private async Task<(string Token, TimeSpan Lifetime)> FetchBearerTokenAsync(string registry, string realm, string? service, string? scope, RegistryCredentials? credentials, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(realm, UriKind.Absolute, out var realmUri) || realmUri.Scheme is not ("http" or "https"))
        {
            throw new RegistryException(RegistryErrorKind.InvalidResponse, registry, $"registry {registry} sent an unusable token realm");
        }
        var query = new List<string>();
        if (service is not null)
        {
            query.Add("service=" + Uri.EscapeDataString(service));
        }
        if (scope is not null)
        {
            query.Add("scope=" + Uri.EscapeDataString(scope));
        }
        var builder = new UriBuilder(realmUri);
        var existing = builder.Query.TrimStart('?');
        builder.Query = string.Join('&', (existing.Length > 0 ? [existing] : Array.Empty<string>()).Concat(query));
        var tokenUri = builder.Uri;
        var authorization = credentials is null ? null : BasicAuthorization(credentials);

        using var response = await SendThroughPipelineAsync(registry, () =>
            new HttpRequestMessage(HttpMethod.Get, tokenUri) { Headers = { Authorization = authorization } }, cancellationToken);
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            throw Unauthorized(registry, credentials is not null, $"(its token service at {realmUri.Authority} answered {(int)response.StatusCode})", (int)response.StatusCode);
        }
        if (!response.IsSuccessStatusCode)
        {
            throw new RegistryException(RegistryErrorKind.Failed, registry,
                $"registry {registry}: its token service at {realmUri.Authority} answered {(int)response.StatusCode}", (int)response.StatusCode);
        }
        var body = await ReadBodyAsync(registry, response, MaxTokenResponseBytes, cancellationToken);
        return ParseTokenResponse(registry, body);
    }

    private static (string Token, TimeSpan Lifetime) ParseTokenResponse(string registry, byte[]? body)
    {
        var invalid = new RegistryException(RegistryErrorKind.InvalidResponse, registry, $"registry {registry}: its token service answered without a token");
        if (body is null)
        {
            throw invalid;
        }
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw invalid;
            }
            var token = StringProperty(root, "token") ?? StringProperty(root, "access_token");
            if (string.IsNullOrEmpty(token))
            {
                throw invalid;
            }
            var lifetime = root.TryGetProperty("expires_in", out var expires) && expires.ValueKind == JsonValueKind.Number
                && expires.TryGetInt32(out var seconds) && seconds > 0
                ? TimeSpan.FromSeconds(seconds)
                : DefaultTokenLifetime;
            return (token, lifetime);
        }
        catch (JsonException e)
        {
            throw new RegistryException(RegistryErrorKind.InvalidResponse, registry, $"registry {registry}: its token service answered invalid JSON", inner: e);
        }
    }

    private static string? StringProperty(JsonElement element, string name)
        => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
