using System.Text.Json;
using System.Text.Json.Serialization;

using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

using Wave.Api.Containers;
using Wave.Api.Identity;
using Wave.Core.Builds;
using Wave.Core.Identity;
using Wave.Core.State;

namespace Wave.Api.Apis;

public static class ContainerApi
{
    public static IEndpointRouteBuilder MapContainerApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/container-token", SubmitV1);
        app.MapPost("/v1alpha2/container", SubmitV2);
        return app;
    }

    public static async Task<IResult> SubmitV1(HttpContext context, ContainerRequestService service, IdentityResolver identity, IOptions<ContainerRequestOptions> options,
        IOptions<BuildOptions> builds, ServiceCapabilities capabilities)
    {
        return await Handle(context, identity, options.Value.Limits, builds.Value, capabilities, v2: false, async (request, user) =>
            TypedResults.Ok(SubmitContainerTokenResponse.Of(await service.SubmitAsync(request, user, RemoteIp(context), context.RequestAborted))));
    }

    public static async Task<IResult> SubmitV2(HttpContext context, ContainerRequestService service, IdentityResolver identity, IOptions<ContainerRequestOptions> options,
        IOptions<BuildOptions> builds, ServiceCapabilities capabilities)
    {
        return await Handle(context, identity, options.Value.Limits, builds.Value, capabilities, v2: true, async (request, user) =>
            TypedResults.Ok(SubmitContainerTokenResponseV2.Of(await service.SubmitAsync(request, user, RemoteIp(context), context.RequestAborted))));
    }

    private static string? RemoteIp(HttpContext context) => context.Connection.RemoteIpAddress?.ToString();

    private static async Task<IResult> Handle(HttpContext context, IdentityResolver identity, ContainerRequestLimits limits, BuildOptions builds,
        ServiceCapabilities capabilities, bool v2, Func<ValidatedContainerRequest, WaveUser?, Task<IResult>> submit)
    {
        try
        {
            var body = await JsonBody.ReadAsync<SubmitContainerTokenRequest>(context, limits.MaxRequestBytes, "container request", "Wave:Limits:MaxRequestBytes");
            // What the service cannot honour is refused before anything else is looked at, never dropped.
            RequestCapabilities.Check(body, v2, capabilities);
            var validated = ContainerRequestValidator.Validate(body, limits, builds);
            var caller = await identity.ResolveAsync(context, body.TowerAccessToken, body.TowerRefreshToken, body.TowerEndpoint, context.RequestAborted, body.TowerWorkspaceId);
            return await submit(validated with { PlatformAccess = caller.Platform }, caller.User);
        }
        catch (ApiException e)
        {
            if (e.RetryAfter is { } retryAfter)
            {
                context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            return Error(e.StatusCode, e.Message, e.Field);
        }
        catch (StateUnavailableException e)
        {
            return Error(StatusCodes.Status503ServiceUnavailable, $"the state store is unavailable, try again: {e.Message}");
        }
        catch (System.Data.Common.DbException e)
        {
            return Error(StatusCodes.Status503ServiceUnavailable, $"the build store is unavailable, try again: {e.Message}");
        }
    }

    internal static IResult Error(int statusCode, string message, string? field = null) =>
        TypedResults.Json(new ApiError(message, field), statusCode: statusCode);
}
