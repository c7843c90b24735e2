using System.Text.Json.Serialization;

namespace Wave.Core.Identity;

/// <summary>Who made a request: a Seqera Platform user or a configured API key holder.</summary>
public sealed record WaveUser(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("userName")] string UserName,
    [property: JsonPropertyName("email")] string? Email)
{
    public const string AnonymousOrganization = "anonymous";

    /// <summary>The organisation metrics are counted under: the domain of the email, lower-case.</summary>
    [JsonIgnore]
    public string Organization => OrganizationOf(this);

    public static string OrganizationOf(WaveUser? user)
    {
        var email = user?.Email;
        var at = email?.LastIndexOf('@') ?? -1;
        return at > 0 && at < email!.Length - 1 ? email[(at + 1)..].ToLowerInvariant() : AnonymousOrganization;
    }
}
