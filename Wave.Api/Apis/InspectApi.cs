using Wave.Api.Containers;
using Wave.Api.Identity;
using Wave.Api.Inspect;
using Wave.Core.Names;
using Wave.Core.Registry;
using Wave.Core.Security;

namespace Wave.Api.Apis;

public static class InspectApi
{
    public static IEndpointRouteBuilder MapInspectApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1alpha1/inspect", Inspect);
        return app;
    }

    /// <summary>
    /// An image's manifest and config, or a multi-platform image's index. With a Platform token the user's registry
    /// login kept on Platform is used, as for a container request; the registry must pass the network policy.
    /// </summary>
    public static async Task<IResult> Inspect(HttpContext context, ContainerInspector inspector, IdentityResolver identity, PlatformCredentialsClient platformCredentials,
        RegistryClient registry, IRegistryCredentialsProvider configuredCredentials, NetworkTargetPolicy policy, string? platform = null)
    {
        try
        {
            var request = await JsonBody.ReadAsync<InspectRequest>(context, maxBytes: 64 * 1024, "inspect request");
            if (string.IsNullOrWhiteSpace(request.ContainerImage))
            {
                throw ApiException.BadRequest("containerImage", "is required");
            }
            if (!ImageReference.TryParse(request.ContainerImage, out var image, out var error))
            {
                throw ApiException.BadRequest("containerImage", $"'{request.ContainerImage}' is not a valid image name: {error}");
            }
            ContainerPlatform? target = null;
            if (platform is not null && platform.Contains(',', StringComparison.Ordinal))
            {
                throw ApiException.BadRequest("platform", $"'{platform}' names several platforms: inspect one at a time");
            }
            if (platform is not null && !ContainerPlatform.TryParse(platform, out target, out var platformError))
            {
                throw ApiException.BadRequest("platform", $"'{platform}' is not supported: {platformError}");
            }
            if (await policy.CheckAsync(registry.BaseUri(image.Registry), context.RequestAborted, image.Registry) is { } refusal)
            {
                throw ApiException.BadRequest("containerImage", $"registry '{image.Registry}' {refusal}");
            }
            var caller = await identity.ResolveAsync(context, request.TowerAccessToken, request.TowerRefreshToken, request.TowerEndpoint,
                context.RequestAborted, request.TowerWorkspaceId);
            var userCredentials = caller.Platform is { } access ? await platformCredentials.FindAsync(access, image.Registry, context.RequestAborted) : null;
            var client = userCredentials is null ? null : registry.WithCredentials(new SingleRegistryCredentials(image.Registry, userCredentials, configuredCredentials));
            return TypedResults.Ok(await inspector.InspectAsync(image, target, context.RequestAborted, client));
        }
        catch (ApiException e)
        {
            return ContainerApi.Error(e.StatusCode, e.Message, e.Field);
        }
    }
}
