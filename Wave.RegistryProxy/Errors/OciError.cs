using System.Text.Json.Serialization;

namespace Wave.RegistryProxy.Errors;

/// <summary>The error codes of the distribution spec (and docker's errcode package) that Wave answers with.</summary>
public static class OciErrorCodes
{
    public const string NameUnknown = "NAME_UNKNOWN";
    public const string NameInvalid = "NAME_INVALID";
    public const string ManifestUnknown = "MANIFEST_UNKNOWN";
    public const string BlobUnknown = "BLOB_UNKNOWN";
    public const string DigestInvalid = "DIGEST_INVALID";
    public const string Unsupported = "UNSUPPORTED";
    public const string Denied = "DENIED";
    public const string Unavailable = "UNAVAILABLE";
    public const string TooManyRequests = "TOOMANYREQUESTS";
    public const string Unknown = "UNKNOWN";
}

public sealed record OciErrorEntry(
    [property: JsonPropertyName("code")] string Code,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("detail")] object? Detail);

public sealed record OciErrorBody([property: JsonPropertyName("errors")] IReadOnlyList<OciErrorEntry> Errors);

/// <summary>A failure answered on /v2/ in the OCI format <c>{"errors":[{"code","message","detail"}]}</c>.</summary>
public sealed class OciErrorException(int statusCode, string code, string message, object? detail = null) : Exception(message)
{
    public int StatusCode { get; } = statusCode;
    public string Code { get; } = code;
    public object? Detail { get; } = detail;

    /// <summary>Sent as a Retry-After header (seconds) when set.</summary>
    public TimeSpan? RetryAfter { get; init; }

    public IResult ToResult() => new OciErrorResult(this);

    /// <summary>
    /// A HEAD answer has no body, so the message also goes out in this header (one line, printable ASCII, at most
    /// <see cref="MaxHeaderMessageLength"/> characters) for clients and people that only HEAD.
    /// </summary>
    public const string MessageHeader = "Wave-Error";

    public const int MaxHeaderMessageLength = 2000;

    private sealed class OciErrorResult(OciErrorException error) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            if (HttpMethods.IsHead(httpContext.Request.Method))
            {
                httpContext.Response.Headers[MessageHeader] = HeaderText($"{error.Code}: {error.Message}");
            }
            if (error.RetryAfter is { } retryAfter)
            {
                httpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            return TypedResults.Json(new OciErrorBody([new OciErrorEntry(error.Code, error.Message, error.Detail)]), statusCode: error.StatusCode).ExecuteAsync(httpContext);
        }
    }

    private static string HeaderText(string message)
    {
        var builder = new System.Text.StringBuilder(Math.Min(message.Length, MaxHeaderMessageLength));
        foreach (var c in message)
        {
            if (builder.Length == MaxHeaderMessageLength)
            {
                break;
            }
            builder.Append(c is >= ' ' and <= '~' ? c : c is '\n' or '\r' or '\t' ? ' ' : '?');
        }
        return builder.ToString();
    }
}
