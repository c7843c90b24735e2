using System.Globalization;
using System.Text.Json.Serialization;

using Wave.Core.Augmentation;
using Wave.Core.Identity;
using Wave.Core.Requests;

namespace Wave.Api.Records;

/// <summary><c>GET /container-token/{token}</c>: the token and the record of its request.</summary>
public sealed record DescribeContainerResponse(
    [property: JsonPropertyName("token")] string Token,
    [property: JsonPropertyName("request")] ContainerRecordDescription Request);

/// <summary>A container record as the API shows it (the original's field names; no secret is ever part of a record).</summary>
public sealed record ContainerRecordDescription(
    [property: JsonPropertyName("user")] WaveUser? User,
    [property: JsonPropertyName("workspaceId")] long? WorkspaceId,
    [property: JsonPropertyName("towerEndpoint")] string? TowerEndpoint,
    [property: JsonPropertyName("containerImage")] string ContainerImage,
    [property: JsonPropertyName("containerConfig")] ContainerConfig? ContainerConfig,
    [property: JsonPropertyName("platform")] string? Platform,
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
    public static ContainerRecordDescription Of(ContainerRecord record, DateTimeOffset now) => new(
        record.User, record.WorkspaceId, record.PlatformEndpoint, record.SourceImage, record.ContainerConfig, record.Platform, record.RequestIp,
        record.SourceImage, record.SourceDigest, record.TargetImage, record.ServedDigest, record.BuildId, record.CredentialsSource,
        record.CreatedAt.UtcDateTime, record.ExpiresAt.UtcDateTime, record.ExpiresAt <= now, record.Revoked, record.RevokedAt?.UtcDateTime);
}

/// <summary><c>DELETE /container-token/{token}</c>.</summary>
public sealed record RevokeContainerResponse(
    [property: JsonPropertyName("token")] string Token,
    [property: JsonPropertyName("revoked")] bool Revoked,
    [property: JsonPropertyName("revokedAt")] DateTime RevokedAt);

/// <summary><c>GET /v1alpha2/container/{token}/status</c>, the ContainerStatusResponse of the Wave API.</summary>
public sealed record ContainerStatusResponse(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("buildId")] string? BuildId,
    [property: JsonPropertyName("mirrorId")] string? MirrorId,
    [property: JsonPropertyName("scanId")] string? ScanId,
    [property: JsonPropertyName("vulnerabilities")] IReadOnlyDictionary<string, int>? Vulnerabilities,
    [property: JsonPropertyName("succeeded")] bool? Succeeded,
    [property: JsonPropertyName("reason")] string? Reason,
    [property: JsonPropertyName("detailsUri")] string DetailsUri,
    [property: JsonPropertyName("creationTime")] DateTime CreationTime,
    [property: JsonPropertyName("duration")] string? Duration)
{
    public const string Pending = "PENDING";
    public const string Done = "DONE";

    /// <summary>Seconds with nanosecond digits, as the original writes a duration (<c>123.914989000</c>).</summary>
    public static string FormatDuration(TimeSpan duration) => duration.TotalSeconds.ToString("0.000000000", CultureInfo.InvariantCulture);
}
