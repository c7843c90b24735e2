using Wave.Core.Registry;
using Wave.Core.Requests;
using Wave.Core.Security;
using Wave.RegistryProxy.Errors;

namespace Wave.RegistryProxy.Content;

/// <summary>
/// The registry client a token's pulls use: Wave's configured credentials, or, when the request brought its user's own
/// login (from Seqera Platform), that login opened from the request for the source registry only.
/// </summary>
public sealed class UpstreamRegistries(RegistryClient registry, IRegistryCredentialsProvider configured, CredentialSealer sealer, ILogger<UpstreamRegistries> logger)
{
    public async ValueTask<RegistryClient> ForAsync(ContainerRequest request, CancellationToken cancellationToken)
    {
        if (request.SealedCredentials is not { } sealedCredentials)
        {
            return registry;
        }
        var credentials = await sealer.OpenAsync(request.Token, sealedCredentials, cancellationToken);
        if (credentials is null)
        {
            logger.LogWarning("The registry credentials of token {Token} for {Registry} cannot be opened (was Wave:Security:CredentialsKey changed?)",
                request.Token, sealedCredentials.Registry);
            throw new OciErrorException(StatusCodes.Status503ServiceUnavailable, OciErrorCodes.Unavailable,
                $"the registry credentials of container token '{request.Token}' cannot be opened by this Wave service: request a new token");
        }
        return registry.WithCredentials(new SingleRegistryCredentials(sealedCredentials.Registry, credentials, configured));
    }
}
