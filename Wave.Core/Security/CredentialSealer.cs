using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

using Microsoft.Extensions.Options;

using Wave.Core.Registry;
using Wave.Core.Requests;
using Wave.Core.State;

namespace Wave.Core.Security;

/// <summary><c>Wave:Security:CredentialsKey</c>: base64 of 32 random bytes (<c>openssl rand -base64 32</c>).</summary>
public sealed class CredentialSealerOptions
{
    public string? CredentialsKey { get; set; }
}

/// <summary>
/// Seals the registry credentials a request brought (from Seqera Platform) so that the registry proxy can pull with
/// them later without the user's access token, and so that the shared state never holds them in clear. The key is
/// <c>Wave:Security:CredentialsKey</c> when configured (what a deployment should do: the key then lives outside the
/// state store); otherwise one random key is created in the shared state on first use and shared by every process
/// using that state, which keeps credentials out of the request entries and of any copy of them, but not from
/// someone who can read the whole store.
/// </summary>
public sealed class CredentialSealer(IKeyValueStore state, IOptions<CredentialSealerOptions> options)
{
    private const string StateKey = "credentials-key";
    private const int KeyBytes = 32;
    private const int NonceBytes = 12;
    private const int TagBytes = 16;

    private readonly Lock _gate = new();
    private Task<byte[]>? _key;

    private sealed record Plain([property: JsonPropertyName("u")] string Username, [property: JsonPropertyName("p")] string Password);

    public async Task<SealedCredentials> SealAsync(string token, string registry, RegistryCredentials credentials, CancellationToken cancellationToken)
    {
        var key = await KeyAsync(cancellationToken);
        var plain = JsonSerializer.SerializeToUtf8Bytes(new Plain(credentials.Username, credentials.Password));
        var output = new byte[NonceBytes + plain.Length + TagBytes];
        var nonce = output.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using (var aes = new AesGcm(key, TagBytes))
        {
            aes.Encrypt(nonce, plain, output.AsSpan(NonceBytes, plain.Length), output.AsSpan(NonceBytes + plain.Length), AssociatedData(token, registry));
        }
        CryptographicOperations.ZeroMemory(plain);
        return new SealedCredentials(registry, Convert.ToBase64String(output));
    }

    /// <summary>The credentials, or null when they cannot be opened (another key, another token, altered data).</summary>
    public async Task<RegistryCredentials?> OpenAsync(string token, SealedCredentials sealedCredentials, CancellationToken cancellationToken)
    {
        var key = await KeyAsync(cancellationToken);
        byte[] input;
        try
        {
            input = Convert.FromBase64String(sealedCredentials.Data);
        }
        catch (FormatException)
        {
            return null;
        }
        if (input.Length < NonceBytes + TagBytes)
        {
            return null;
        }
        var plain = new byte[input.Length - NonceBytes - TagBytes];
        try
        {
            using var aes = new AesGcm(key, TagBytes);
            aes.Decrypt(input.AsSpan(0, NonceBytes), input.AsSpan(NonceBytes, plain.Length), input.AsSpan(NonceBytes + plain.Length), plain,
                AssociatedData(token, sealedCredentials.Registry));
            var opened = JsonSerializer.Deserialize<Plain>(plain);
            return opened is null ? null : new RegistryCredentials(opened.Username, opened.Password);
        }
        catch (Exception e) when (e is CryptographicException or JsonException)
        {
            return null;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    private static byte[] AssociatedData(string token, string registry) => Encoding.UTF8.GetBytes($"wave-credentials\n{token}\n{registry.ToLowerInvariant()}");

    private Task<byte[]> KeyAsync(CancellationToken cancellationToken)
    {
        Task<byte[]> key;
        lock (_gate)
        {
            if (_key is null || _key.IsFaulted || _key.IsCanceled)
            {
                _key = LoadKeyAsync();
            }
            key = _key;
        }
        return key.WaitAsync(cancellationToken);
    }

    private async Task<byte[]> LoadKeyAsync()
    {
        var configured = options.Value.CredentialsKey;
        if (!string.IsNullOrWhiteSpace(configured))
        {
            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(configured.Trim());
            }
            catch (FormatException)
            {
                throw new InvalidOperationException("Wave:Security:CredentialsKey is not base64 (make one with `openssl rand -base64 32`)");
            }
            return bytes.Length == KeyBytes
                ? bytes
                : throw new InvalidOperationException($"Wave:Security:CredentialsKey must be {KeyBytes} bytes, it is {bytes.Length}");
        }
        await state.SetIfAbsentAsync(StateKey, RandomNumberGenerator.GetBytes(KeyBytes), timeToLive: null);
        var shared = await state.GetAsync(StateKey);
        return shared is { Length: KeyBytes } ? shared : throw new InvalidOperationException($"the shared credentials key '{StateKey}' in the state store is not {KeyBytes} bytes");
    }
}
