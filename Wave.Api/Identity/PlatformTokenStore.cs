using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

using Wave.Core.Registry;
using Wave.Core.Requests;
using Wave.Core.Security;
using Wave.Core.State;

namespace Wave.Api.Identity;

/// <summary>A Platform access token and the refresh token that renews it. ToString shows neither.</summary>
public sealed record PlatformTokens(string AccessToken, string? RefreshToken)
{
    public override string ToString() => "PlatformTokens { AccessToken = ***, RefreshToken = *** }";
}

/// <summary>
/// The tokens a refresh produced, by the endpoint and access token a client sent (a hash of both is the key), kept in
/// the shared state for 30 days as the Wave server keeps them, so that every Api instance serves a client that resends
/// its expired token with the renewed one. Sealed with <see cref="CredentialSealer"/>: the state never holds them in clear.
/// </summary>
public sealed class PlatformTokenStore(IKeyValueStore state, CredentialSealer sealer)
{
    public static readonly TimeSpan TimeToLive = TimeSpan.FromDays(30);

    private const string Binding = "platform-tokens";

    public static string KeyOf(Uri endpoint, string accessToken) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{endpoint.GetLeftPart(UriPartial.Path).TrimEnd('/')}\n{accessToken}")));

    public async Task<PlatformTokens?> FindAsync(string key, CancellationToken cancellationToken)
    {
        var bytes = await state.GetAsync(StateKey(key), cancellationToken);
        if (bytes is null)
        {
            return null;
        }
        var sealedTokens = JsonSerializer.Deserialize<SealedCredentials>(bytes);
        var opened = sealedTokens is null ? null : await sealer.OpenAsync(key, sealedTokens, cancellationToken);
        return opened is null ? null : new PlatformTokens(opened.Username, opened.Password.Length == 0 ? null : opened.Password);
    }

    public async Task SaveAsync(string key, PlatformTokens tokens, CancellationToken cancellationToken)
    {
        var sealedTokens = await sealer.SealAsync(key, Binding, new RegistryCredentials(tokens.AccessToken, tokens.RefreshToken ?? ""), cancellationToken);
        await state.SetAsync(StateKey(key), JsonSerializer.SerializeToUtf8Bytes(sealedTokens), TimeToLive, cancellationToken);
    }

    private static string StateKey(string key) => $"platform-tokens:{key}";
}
