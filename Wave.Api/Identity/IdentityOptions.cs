namespace Wave.Api.Identity;

/// <summary><c>Wave:Identity</c>: who may call Wave without a Seqera Platform account.</summary>
public sealed class IdentityOptions
{
    /// <summary>API keys sent as <c>Authorization: Bearer KEY</c>, for a deployment that has no Platform.</summary>
    public List<ApiKeyEntry> ApiKeys { get; set; } = [];

    /// <summary>How long a Platform user lookup is reused.</summary>
    public TimeSpan UserCacheTime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The Platform endpoint used when a request has an access token but no towerEndpoint.</summary>
    public string DefaultPlatformEndpoint { get; set; } = "https://api.cloud.seqera.io";
}

public sealed class ApiKeyEntry
{
    /// <summary>The sha256 (hex) of the key, so that configuration does not hold the key itself.</summary>
    public string KeySha256 { get; set; } = "";
    public string UserName { get; set; } = "";
    public string? Email { get; set; }
}
