namespace Wave.Api.Identity;

/// <summary>
/// What a request brought to act for its user on Seqera Platform: the endpoint (already checked against the network
/// policy), the access token and the workspace. Lives for the request only; ToString never shows the token.
/// </summary>
public sealed record PlatformAccess(Uri Endpoint, string AccessToken, long? WorkspaceId)
{
    /// <summary>The endpoint as messages and records name it: scheme, host, port, path.</summary>
    public string Name => Endpoint.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped).TrimEnd('/');

    public override string ToString() => $"PlatformAccess {{ Endpoint = {Name}, WorkspaceId = {WorkspaceId}, AccessToken = *** }}";
}
