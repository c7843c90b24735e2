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

    /// <summary>Answer what the request would produce, and build, push and record nothing.</summary>
    public bool? DryRun { get; init; }

    /// <summary>The Seqera Platform workflow the request is made for (nf-wave sends it); kept with nothing else.</summary>
    public string? WorkflowId { get; init; }

    public bool? Mirror { get; init; }

    /// <summary><c>none</c>, <c>async</c> or <c>required</c>.</summary>
    public string? ScanMode { get; init; }

    /// <summary>Vulnerability levels allowed (<c>LOW</c>, <c>MEDIUM</c>, <c>HIGH</c>, <c>CRITICAL</c>).</summary>
    public IReadOnlyList<string>? ScanLevels { get; init; }

    public IReadOnlyList<string>? ContainerIncludes { get; init; }

    /// <summary>A build context archive, a layer object <c>{location, gzipDigest, gzipSize, tarDigest}</c>.</summary>
    public JsonElement? BuildContext { get; init; }

    /// <summary><c>{mode: gzip|estargz|zstd, level, force}</c>.</summary>
    public JsonElement? BuildCompression { get; init; }

    /// <summary>How a packages build is made (<c>conda/micromamba:v1</c>, <c>conda/micromamba:v2</c>, <c>conda/pixi:v1</c>, <c>cran/installr:v1</c>).</summary>
    public string? BuildTemplate { get; init; }
}

/// <summary>
/// <c>POST /container-token</c> answer (the legacy form): the token and the name to pull; the build is named only
/// when this request started it, as the Wave server answers. Times are UTC ISO-8601 (<c>2024-04-09T21:19:01.715321Z</c>).
/// A freeze has no token and no expiration: its target image is durable.
/// </summary>
public sealed record SubmitContainerTokenResponse(
    [property: JsonPropertyName("requestId"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? RequestId,
    [property: JsonPropertyName("containerToken"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ContainerToken,
    [property: JsonPropertyName("targetImage")] string TargetImage,
    [property: JsonPropertyName("expiration"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTime? Expiration,
    [property: JsonPropertyName("containerImage"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ContainerImage = null,
    [property: JsonPropertyName("buildId"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? BuildId = null)
{
    public static SubmitContainerTokenResponse Of(ContainerSubmission submission) => new(
        submission.RequestId, submission.Token, submission.TargetImage, submission.Expiration?.UtcDateTime, submission.ContainerImage,
        submission.BuildNew ? submission.BuildId : null);
}

/// <summary>
/// <c>POST /v1alpha2/container</c> answer, the Wave server's SubmitContainerTokenResponse: fields that do not apply
/// are left out (a freeze has no token or expiration, an augmentation no build and no <c>cached</c>). <c>dryRun</c> is
/// this service's own addition, present only on a dry run.
/// </summary>
public sealed record SubmitContainerTokenResponseV2(
    [property: JsonPropertyName("requestId")] string RequestId,
    [property: JsonPropertyName("containerToken"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ContainerToken,
    [property: JsonPropertyName("targetImage")] string TargetImage,
    [property: JsonPropertyName("expiration"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTime? Expiration,
    [property: JsonPropertyName("containerImage")] string ContainerImage,
    [property: JsonPropertyName("buildId"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? BuildId,
    [property: JsonPropertyName("cached"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? Cached,
    [property: JsonPropertyName("freeze")] bool Freeze,
    [property: JsonPropertyName("mirror")] bool Mirror,
    [property: JsonPropertyName("scanId"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ScanId,
    [property: JsonPropertyName("succeeded"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? Succeeded,
    [property: JsonPropertyName("dryRun"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool DryRun = false)
{
    /// <summary>
    /// The answer for a submission. While a scan is asked for, <c>succeeded</c> is not known yet (it depends on the scan),
    /// so it is left out, as the server does.
    /// </summary>
    public static SubmitContainerTokenResponseV2 Of(ContainerSubmission s) => new(
        s.RequestId, s.Token, s.TargetImage, s.Expiration?.UtcDateTime, s.ContainerImage, s.BuildId, s.BuildId is null ? null : s.Cached,
        s.Freeze, s.Mirror, s.ScanId, s.ScanId is null ? s.Succeeded : null, s.DryRun);
}

/// <summary>Every error answer of the REST API: what is wrong, and the request field it concerns when there is one.</summary>
public sealed record ApiError(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("field")] string? Field = null);
