using System.Text.Json;
using System.Text.Json.Serialization;

using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

using Wave.Api.Containers;
using Wave.Core.State;

namespace Wave.Api.Apis;

public static class ContainerApi
{
    internal static readonly JsonSerializerOptions RequestJson = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
        AllowTrailingCommas = false,
        MaxDepth = 16,
    };

    public static IEndpointRouteBuilder MapContainerApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/container-token", SubmitV1);
        app.MapPost("/v1alpha2/container", SubmitV2);
        return app;
    }

    public static async Task<IResult> SubmitV1(HttpContext context, ContainerRequestService service, IOptions<ContainerRequestOptions> options)
    {
        return await Handle(context, options.Value.Limits, async request =>
        {
            var issued = await service.SubmitAsync(request, RemoteIp(context), context.RequestAborted);
            return TypedResults.Ok(new SubmitContainerTokenResponse(issued.Token, issued.TargetImage, issued.ExpiresAt.UtcDateTime));
        });
    }

    public static async Task<IResult> SubmitV2(HttpContext context, ContainerRequestService service, IOptions<ContainerRequestOptions> options)
    {
        return await Handle(context, options.Value.Limits, async request =>
        {
            var issued = await service.SubmitAsync(request, RemoteIp(context), context.RequestAborted);
            return TypedResults.Ok(new SubmitContainerTokenResponseV2(
                issued.Token, issued.TargetImage, issued.ExpiresAt.UtcDateTime, issued.SourceImage, BuildId: null, Cached: false, Freeze: false));
        });
    }

    private static string? RemoteIp(HttpContext context) => context.Connection.RemoteIpAddress?.ToString();

    private static async Task<IResult> Handle(HttpContext context, ContainerRequestLimits limits, Func<ValidatedContainerRequest, Task<IResult>> submit)
    {
        try
        {
            var body = await ReadBodyAsync(context, limits);
            return await submit(ContainerRequestValidator.Validate(body, limits));
        }
        catch (ApiException e)
        {
            return Error(e.StatusCode, e.Message, e.Field);
        }
        catch (StateUnavailableException e)
        {
            return Error(StatusCodes.Status503ServiceUnavailable, $"the state store is unavailable, try again: {e.Message}");
        }
    }

    private static async Task<SubmitContainerTokenRequest> ReadBodyAsync(HttpContext context, ContainerRequestLimits limits)
    {
        if (context.Request.ContentLength > limits.MaxRequestBytes)
        {
            throw new ApiException(StatusCodes.Status413PayloadTooLarge, $"request body is {context.Request.ContentLength} bytes; at most {limits.MaxRequestBytes} are accepted (Wave:Limits:MaxRequestBytes)");
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = limits.MaxRequestBytes;
        }
        if (context.Request.ContentType is { } contentType && !contentType.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(StatusCodes.Status415UnsupportedMediaType, $"request body must be JSON (Content-Type: application/json), not '{contentType}'");
        }
        try
        {
            return await JsonSerializer.DeserializeAsync<SubmitContainerTokenRequest>(context.Request.Body, RequestJson, context.RequestAborted)
                ?? throw new ApiException(StatusCodes.Status400BadRequest, "request body must be a JSON object, not null");
        }
        catch (JsonException e)
        {
            var field = e.Path is null or "$" ? null : e.Path.TrimStart('$', '.');
            var reason = FirstSentence(e.Message);
            // A well-formed document with a value of the wrong type is the client's field error; anything else is
            // a body that is not JSON at all.
            if (field is not null && reason.StartsWith("The JSON value could not be converted", StringComparison.Ordinal))
            {
                throw ApiException.BadRequest(field, $"has a value of the wrong type: {reason}");
            }
            var where = field is null ? "" : $" (at {field})";
            throw new ApiException(StatusCodes.Status400BadRequest, $"request body is not a valid JSON container request{where}: {reason}");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new ApiException(StatusCodes.Status413PayloadTooLarge, $"request body exceeds {limits.MaxRequestBytes} bytes (Wave:Limits:MaxRequestBytes)");
        }
    }

    private static string FirstSentence(string message)
    {
        var path = message.IndexOf(" Path:", StringComparison.Ordinal);
        return path > 0 ? message[..path] : message;
    }

    internal static IResult Error(int statusCode, string message, string? field = null) =>
        TypedResults.Json(new ApiError(message, field), statusCode: statusCode);
}
