using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

using Wave.Api.Apis;
using Wave.Core.Augmentation;
using Wave.Core.Identity;
using Wave.Core.Requests;

namespace Wave.Api.Records;

/// <summary>
/// Who made a request, as a record shows it: the user's id to everyone, their user name and email only to an admin.
/// A Platform user's id is its number, as the Wave server writes it; an API key holder's id is <c>apikey:name</c>.
/// </summary>
public sealed record RecordUser(
    [property: JsonPropertyName("id")] JsonElement Id,
    [property: JsonPropertyName("userName"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? UserName,
    [property: JsonPropertyName("email"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Email)
{
    public static RecordUser? Of(WaveUser? user, bool admin) => user is null
        ? null
        : new RecordUser(IdOf(user.Id), admin ? user.UserName : null, admin ? user.Email : null);

    public static JsonElement IdOf(string id) =>
        long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            ? JsonSerializer.SerializeToElement(number)
            : JsonSerializer.SerializeToElement(id);
}

/// <summary>
/// <c>GET /container-token/{token}</c>, the Wave server's DescribeWaveContainerResponse (<c>token</c>, <c>expiration</c>,
/// <c>request</c>, <c>build</c>, <c>source</c>, <c>wave</c>); <c>request</c> also keeps this service's own fields.
/// </summary>
public sealed record DescribeContainerResponse(
    [property: JsonPropertyName("token")] string Token,
    [property: JsonPropertyName("expiration")] DateTime Expiration,
    [property: JsonPropertyName("request")] ContainerRecordDescription Request,
    [property: JsonPropertyName("build")] DescribeBuildInfo Build,
    [property: JsonPropertyName("source")] DescribeImageInfo Source,
    [property: JsonPropertyName("wave")] DescribeImageInfo Wave)
{
    public static DescribeContainerResponse Of(ContainerRecord record, DateTimeOffset now, bool admin) => new(
        record.Token, record.ExpiresAt.UtcDateTime, ContainerRecordDescription.Of(record, now, admin),
        new DescribeBuildInfo(record.BuildId, record.BuildNew, record.BuildId is null ? null : record.Freeze),
        new DescribeImageInfo(record.SourceImage, record.SourceDigest), new DescribeImageInfo(record.TargetImage, record.ServedDigest));
}

public sealed record DescribeBuildInfo(
    [property: JsonPropertyName("buildId"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? BuildId,
    [property: JsonPropertyName("buildNew"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? BuildNew,
    [property: JsonPropertyName("freeze"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? Freeze);

public sealed record DescribeImageInfo(
    [property: JsonPropertyName("image")] string Image,
    [property: JsonPropertyName("digest"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Digest);

/// <summary>A container record as the describe API shows it (the original's field names; no secret is ever part of a record).</summary>
public sealed record ContainerRecordDescription(
    [property: JsonPropertyName("user")] RecordUser? User,
    [property: JsonPropertyName("workspaceId")] long? WorkspaceId,
    [property: JsonPropertyName("towerEndpoint")] string? TowerEndpoint,
    [property: JsonPropertyName("containerImage")] string ContainerImage,
    [property: JsonPropertyName("containerConfig")] ContainerConfig? ContainerConfig,
    [property: JsonPropertyName("platform")] string? Platform,
    [property: JsonPropertyName("fingerprint"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Fingerprint,
    [property: JsonPropertyName("ipAddress")] string? IpAddress,
    [property: JsonPropertyName("sourceImage")] string SourceImage,
    [property: JsonPropertyName("sourceDigest")] string? SourceDigest,
    [property: JsonPropertyName("waveImage")] string WaveImage,
    [property: JsonPropertyName("waveDigest")] string? WaveDigest,
    [property: JsonPropertyName("buildId")] string? BuildId,
    [property: JsonPropertyName("credentialsSource")] string? CredentialsSource,
    [property: JsonPropertyName("timestamp")] DateTime Timestamp,
    [property: JsonPropertyName("expiration")] DateTime Expiration,
    [property: JsonPropertyName("expired")] bool Expired,
    [property: JsonPropertyName("revoked")] bool Revoked,
    [property: JsonPropertyName("revokedAt")] DateTime? RevokedAt)
{
    public static ContainerRecordDescription Of(ContainerRecord record, DateTimeOffset now, bool admin) => new(
        RecordUser.Of(record.User, admin), record.WorkspaceId, record.PlatformEndpoint, record.SourceImage, record.ContainerConfig, record.Platform,
        record.Fingerprint, record.RequestIp, record.SourceImage, record.SourceDigest, record.TargetImage, record.ServedDigest, record.BuildId,
        record.CredentialsSource, record.CreatedAt.UtcDateTime, record.ExpiresAt.UtcDateTime, record.ExpiresAt <= now, record.Revoked,
        record.RevokedAt?.UtcDateTime);
}

/// <summary>
/// <c>GET /v1alpha2/container/{requestId}</c>: the request's record in the Wave server's WaveContainerRecord shape
/// (flat, <c>id</c> is the request id); null fields are left out. <c>expired</c>, <c>revoked</c>, <c>revokedAt</c> and
/// <c>credentialsSource</c> are this service's own.
/// </summary>
public sealed record ContainerRequestRecordResponse(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("user")] RecordUser? User,
    [property: JsonPropertyName("workspaceId")] long? WorkspaceId,
    [property: JsonPropertyName("containerImage")] string ContainerImage,
    [property: JsonPropertyName("containerConfig")] ContainerConfig? ContainerConfig,
    [property: JsonPropertyName("platform")] string? Platform,
    [property: JsonPropertyName("towerEndpoint")] string? TowerEndpoint,
    [property: JsonPropertyName("fingerprint")] string? Fingerprint,
    [property: JsonPropertyName("timestamp")] DateTime Timestamp,
    [property: JsonPropertyName("ipAddress")] string? IpAddress,
    [property: JsonPropertyName("sourceImage")] string SourceImage,
    [property: JsonPropertyName("sourceDigest")] string? SourceDigest,
    [property: JsonPropertyName("waveImage")] string WaveImage,
    [property: JsonPropertyName("waveDigest")] string? WaveDigest,
    [property: JsonPropertyName("expiration")] DateTime Expiration,
    [property: JsonPropertyName("buildId")] string? BuildId,
    [property: JsonPropertyName("buildNew")] bool? BuildNew,
    [property: JsonPropertyName("freeze")] bool? Freeze,
    [property: JsonPropertyName("mirror")] bool Mirror,
    [property: JsonPropertyName("scanId")] string? ScanId,
    [property: JsonPropertyName("credentialsSource")] string? CredentialsSource,
    [property: JsonPropertyName("expired")] bool Expired,
    [property: JsonPropertyName("revoked")] bool Revoked,
    [property: JsonPropertyName("revokedAt")] DateTime? RevokedAt)
{
    public static ContainerRequestRecordResponse Of(ContainerRecord r, DateTimeOffset now, bool admin) => new(
        r.Token, RecordUser.Of(r.User, admin), r.WorkspaceId, r.SourceImage, r.ContainerConfig, r.Platform, r.PlatformEndpoint, r.Fingerprint,
        r.CreatedAt.UtcDateTime, r.RequestIp, r.SourceImage, r.SourceDigest, r.TargetImage, r.ServedDigest, r.ExpiresAt.UtcDateTime, r.BuildId,
        r.BuildNew, r.BuildId is null ? null : r.Freeze, r.Mirror, r.ScanId, r.CredentialsSource, r.ExpiresAt <= now, r.Revoked, r.RevokedAt?.UtcDateTime);
}

/// <summary><c>DELETE /container-token/{token}</c>.</summary>
public sealed record RevokeContainerResponse(
    [property: JsonPropertyName("token")] string Token,
    [property: JsonPropertyName("revoked")] bool Revoked,
    [property: JsonPropertyName("revokedAt")] DateTime RevokedAt);

/// <summary>
/// <c>GET /v1alpha2/container/{requestId}/status</c>, the Wave server's ContainerStatusResponse. <c>duration</c> is a
/// number of seconds; <c>reason</c> and <c>detailsUri</c> come with a failure; null fields are left out.
/// <c>mirrorId</c>, <c>scanId</c> and <c>vulnerabilities</c> are filled by mirrors and scans.
/// </summary>
public sealed record ContainerStatusResponse(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("buildId")] string? BuildId,
    [property: JsonPropertyName("mirrorId")] string? MirrorId,
    [property: JsonPropertyName("scanId")] string? ScanId,
    [property: JsonPropertyName("vulnerabilities")] IReadOnlyDictionary<string, int>? Vulnerabilities,
    [property: JsonPropertyName("succeeded")] bool? Succeeded,
    [property: JsonPropertyName("reason")] string? Reason,
    [property: JsonPropertyName("detailsUri")] string? DetailsUri,
    [property: JsonPropertyName("creationTime")] DateTime CreationTime,
    [property: JsonPropertyName("duration"), JsonConverter(typeof(JsonSeconds))] TimeSpan? Duration)
{
    /// <summary>Waiting for a builder (or a mirror) to start.</summary>
    public const string Pending = "PENDING";

    /// <summary>The build (or mirror) runs.</summary>
    public const string Building = "BUILDING";

    /// <summary>The image is ready and its security scan runs (scanMode required).</summary>
    public const string Scanning = "SCANNING";

    /// <summary>Finished: <c>succeeded</c> says how.</summary>
    public const string Done = "DONE";

    /// <summary>The Wave server's reason for a failed build; this service's own reason follows it.</summary>
    public const string BuildFailed = "Container build did not complete successfully";
}
