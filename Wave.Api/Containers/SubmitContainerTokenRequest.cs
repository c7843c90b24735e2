using System.Text.Json;
using System.Text.Json.Serialization;

using Wave.Core.Augmentation;

namespace Wave.Api.Containers;

/// <summary>The body of <c>POST /container-token</c> and <c>POST /v1alpha2/container</c>, field names as in the Wave API reference.</summary>
public sealed record SubmitContainerTokenRequest
{
    public string? ContainerImage { get; init; }
    public string? ContainerFile { get; init; }
    public ContainerConfig? ContainerConfig { get; init; }
    public string? CondaFile { get; init; }
    public string? SpackFile { get; init; }
    public string? ContainerPlatform { get; init; }
    public string? BuildRepository { get; init; }
    public string? CacheRepository { get; init; }
    public string? Timestamp { get; init; }
    public string? Fingerprint { get; init; }
    public bool? Freeze { get; init; }
    public string? TowerAccessToken { get; init; }
    public string? TowerRefreshToken { get; init; }
    public string? TowerEndpoint { get; init; }
    public long? TowerWorkspaceId { get; init; }
    public JsonElement? Packages { get; init; }
    public string? NameStrategy { get; init; }
    public string? Format { get; init; }
}

/// <summary>
/// <c>POST /container-token</c> answer. Times are UTC ISO-8601 (<c>2024-04-09T21:19:01.715321Z</c>). A freeze has no
/// token and no expiration: its target image is durable.
/// </summary>
public sealed record SubmitContainerTokenResponse(
    [property: JsonPropertyName("containerToken"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ContainerToken,
    [property: JsonPropertyName("targetImage")] string TargetImage,
    [property: JsonPropertyName("expiration"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTime? Expiration);

/// <summary><c>POST /v1alpha2/container</c> answer; fields that do not apply (a freeze has no token, an augmentation no build) are left out.</summary>
public sealed record SubmitContainerTokenResponseV2(
    [property: JsonPropertyName("containerToken"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ContainerToken,
    [property: JsonPropertyName("targetImage")] string TargetImage,
    [property: JsonPropertyName("expiration"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTime? Expiration,
    [property: JsonPropertyName("containerImage")] string ContainerImage,
    [property: JsonPropertyName("buildId"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? BuildId,
    [property: JsonPropertyName("cached")] bool Cached,
    [property: JsonPropertyName("freeze")] bool Freeze);

/// <summary>Every error answer of the REST API: what is wrong, and the request field it concerns when there is one.</summary>
public sealed record ApiError(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("field")] string? Field = null);
