using System.Text.Json;
using System.Text.Json.Serialization;

using Microsoft.AspNetCore.Http.Features;

using Wave.Api.Containers;

namespace Wave.Api.Apis;

/// <summary>Reads a JSON request body with a size limit, turning every way it can be wrong into a clear 4xx.</summary>
public static class JsonBody
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
        AllowTrailingCommas = false,
        MaxDepth = 16,
    };

    /// <param name="what">What the body is, for messages ("container request").</param>
    /// <param name="limitSetting">The configuration key of <paramref name="maxBytes"/>, named in the 413 message.</param>
    public static async Task<T> ReadAsync<T>(HttpContext context, long maxBytes, string what, string? limitSetting = null) where T : class
    {
        var setting = limitSetting is null ? "" : $" ({limitSetting})";
        if (context.Request.ContentLength > maxBytes)
        {
            throw new ApiException(StatusCodes.Status413PayloadTooLarge, $"request body is {context.Request.ContentLength} bytes; at most {maxBytes} are accepted{setting}");
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = maxBytes;
        }
        if (context.Request.ContentType is { } contentType && !contentType.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(StatusCodes.Status415UnsupportedMediaType, $"request body must be JSON (Content-Type: application/json), not '{contentType}'");
        }
        try
        {
            return await JsonSerializer.DeserializeAsync<T>(context.Request.Body, Options, context.RequestAborted)
                ?? throw new ApiException(StatusCodes.Status400BadRequest, "request body must be a JSON object, not null");
        }
        catch (JsonException e)
        {
            var field = e.Path is null or "$" ? null : e.Path.TrimStart('$', '.');
            var reason = FirstSentence(e.Message);
            // A well-formed document with a value of the wrong type is the client's field error; anything else is
            // a body that is not the JSON object expected.
            if (field is not null && reason.StartsWith("The JSON value could not be converted", StringComparison.Ordinal))
            {
                throw ApiException.BadRequest(field, $"has a value of the wrong type: {reason}");
            }
            var where = field is null ? "" : $" (at {field})";
            throw new ApiException(StatusCodes.Status400BadRequest, $"request body is not a valid JSON {what}{where}: {reason}");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new ApiException(StatusCodes.Status413PayloadTooLarge, $"request body exceeds {maxBytes} bytes{setting}");
        }
    }

    private static string FirstSentence(string message)
    {
        var path = message.IndexOf(" Path:", StringComparison.Ordinal);
        return path > 0 ? message[..path] : message;
    }
}
