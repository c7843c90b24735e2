using Wave.Api.Containers;
using Wave.Api.Inspect;
using Wave.Core.Names;

namespace Wave.Api.Apis;

public static class InspectApi
{
    public static IEndpointRouteBuilder MapInspectApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1alpha1/inspect", Inspect);
        return app;
    }

    public static async Task<IResult> Inspect(HttpContext context, ContainerInspector inspector, string? platform = null)
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
            if (platform is not null && !ContainerPlatform.TryParse(platform, out target, out var platformError))
            {
                throw ApiException.BadRequest("platform", $"'{platform}' is not supported: {platformError}");
            }
            return TypedResults.Ok(new InspectResponse(await inspector.InspectAsync(image, target, context.RequestAborted)));
        }
        catch (ApiException e)
        {
            return ContainerApi.Error(e.StatusCode, e.Message, e.Field);
        }
    }
}
