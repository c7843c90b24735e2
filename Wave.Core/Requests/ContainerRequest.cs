using System.Text.Json.Serialization;

using Wave.Core.Augmentation;
using Wave.Core.Identity;

namespace Wave.Core.Requests;

/// <summary>
/// What a token stands for: the upstream image pinned to the digest it had when the token was issued, and the
/// changes to apply. Immutable for the token's lifetime, so that every process serves the same bytes for it.
/// </summary>
public sealed record ContainerRequest
{
    [JsonPropertyName("token")] public required string Token { get; init; }

    /// <summary>The upstream image as requested, normalised (<c>docker.io/library/ubuntu:latest</c>).</summary>
    [JsonPropertyName("sourceImage")] public required string SourceImage { get; init; }

    /// <summary>
    /// The digest of the upstream manifest (or index) when the token was issued; null for the image of a build that
    /// had not completed then (<see cref="BuildId"/>): it is the digest the build pushed, known once it completed.
    /// </summary>
    [JsonPropertyName("sourceDigest")] public string? SourceDigest { get; init; }

    [JsonPropertyName("sourceMediaType")] public string? SourceMediaType { get; init; }

    /// <summary>The build that makes <see cref="SourceImage"/>, when the request asked for one; pulls wait for it.</summary>
    [JsonPropertyName("buildId")] public string? BuildId { get; init; }

    [JsonPropertyName("containerConfig")] public ContainerConfig? ContainerConfig { get; init; }

    /// <summary>The platform asked for (<c>linux/amd64</c>), or null for all platforms of an index.</summary>
    [JsonPropertyName("platform")] public string? Platform { get; init; }

    [JsonPropertyName("targetImage")] public required string TargetImage { get; init; }

    [JsonPropertyName("createdAt")] public required DateTimeOffset CreatedAt { get; init; }

    [JsonPropertyName("expiresAt")] public required DateTimeOffset ExpiresAt { get; init; }

    [JsonPropertyName("requestIp")] public string? RequestIp { get; init; }

    /// <summary>Who asked, or null for an anonymous request.</summary>
    [JsonPropertyName("user")] public WaveUser? User { get; init; }

    /// <summary>
    /// Upstream registry credentials that came with the request (from Seqera Platform), sealed to this token: the
    /// proxy opens them to pull, nothing else can read them (see <see cref="Security.CredentialSealer"/>).
    /// </summary>
    [JsonPropertyName("sealedCredentials")] public SealedCredentials? SealedCredentials { get; init; }

    /// <summary>The image's security scan, when the request asked for one.</summary>
    [JsonPropertyName("scanId")] public string? ScanId { get; init; }

    /// <summary><c>required</c>: pulls are held until the scan passed <see cref="ScanLevels"/> and refused when it did not.</summary>
    [JsonPropertyName("scanMode")] public string? ScanMode { get; init; }

    [JsonPropertyName("scanLevels")] public IReadOnlyList<string>? ScanLevels { get; init; }

    [JsonIgnore] public bool IsAugmented => ContainerConfig is { IsEmpty: false };
}
