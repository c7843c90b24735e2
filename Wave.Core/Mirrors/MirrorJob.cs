using System.Text.Json.Serialization;

using Wave.Core.Builds;
using Wave.Core.Requests;

namespace Wave.Core.Mirrors;

/// <summary>
/// One copy to run, as it travels through the build queue (a job of its own kind: <see cref="BuildJob.Mirror"/>) and
/// is kept with its record for a restart. The source is pinned by digest, so the copy takes exactly what the request
/// resolved even if the tag moves meanwhile. Registry logins the request brought from Seqera Platform travel sealed
/// (bound to the mirror id and the registry, see <c>CredentialSealer</c>); Wave's configured logins are not carried at
/// all, the builder has its own configuration.
/// </summary>
public sealed record MirrorJob
{
    [JsonPropertyName("mirrorId")] public required string MirrorId { get; init; }
    [JsonPropertyName("contentId")] public required string ContentId { get; init; }

    /// <summary>The image as the request named it, <c>registry/repository:tag</c>.</summary>
    [JsonPropertyName("sourceImage")] public required string SourceImage { get; init; }

    /// <summary>The digest the source resolved to when the request was answered; what is copied.</summary>
    [JsonPropertyName("sourceDigest")] public required string SourceDigest { get; init; }

    /// <summary>Where it goes, <c>registry/repository:tag</c> (or <c>@digest</c>).</summary>
    [JsonPropertyName("targetImage")] public required string TargetImage { get; init; }

    [JsonPropertyName("sourceCredentials")] public SealedCredentials? SourceCredentials { get; init; }
    [JsonPropertyName("targetCredentials")] public SealedCredentials? TargetCredentials { get; init; }

    [JsonPropertyName("createdAt")] public required DateTimeOffset CreatedAt { get; init; }
    [JsonPropertyName("timeout")] public TimeSpan Timeout { get; init; } = MirrorOptions.DefaultTimeout;

    /// <summary>The queue's message for this copy: a <see cref="BuildJob"/> that carries it, with nothing to build.</summary>
    public BuildJob ToQueuedJob() => new()
    {
        BuildId = MirrorId,
        ContainerId = ContentId,
        TargetImage = TargetImage,
        Dockerfile = "",
        Platform = "",
        Format = Kind,
        CreatedAt = CreatedAt,
        Timeout = Timeout,
        Mirror = this,
    };

    /// <summary>What <see cref="BuildJob.Format"/> says of a mirror job (a builder that does not know the kind fails it plainly).</summary>
    public const string Kind = "mirror";
}

/// <summary>How a copy ended: with the counts of what it copied and skipped, or why it failed.</summary>
public sealed record MirrorOutcome(bool Succeeded, string? Digest, string? FailureReason, TimeSpan Duration, MirrorCounts Counts);

/// <summary>Blobs copied and skipped (the target had them), bytes copied, manifests written.</summary>
public sealed record MirrorCounts(int BlobsCopied, int BlobsSkipped, long BytesCopied, int Manifests)
{
    public static readonly MirrorCounts None = new(0, 0, 0, 0);
}
