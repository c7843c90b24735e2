using System.Text.Json.Serialization;

namespace Wave.Core.Requests;

/// <summary>
/// Registry credentials sealed with AES-256-GCM to one token and one registry: <see cref="Data"/> is
/// base64(nonce ‖ ciphertext ‖ tag), the associated data binds it to the token and registry, so a sealed value
/// copied to another token does not open. ToString shows neither the ciphertext nor anything inside it.
/// </summary>
public sealed record SealedCredentials(
    [property: JsonPropertyName("registry")] string Registry,
    [property: JsonPropertyName("data")] string Data)
{
    public override string ToString() => $"SealedCredentials {{ Registry = {Registry} }}";
}
