using System.Text.Json.Serialization;

using Wave.Core.Builds;

namespace Wave.Core.Persistence;

/// <summary>Where a build is in its life. A build moves PENDING → RUNNING → COMPLETED and never back.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<BuildStatus>))]
public enum BuildStatus
{
    [JsonStringEnumMemberName("PENDING")] Pending,
    [JsonStringEnumMemberName("RUNNING")] Running,
    [JsonStringEnumMemberName("COMPLETED")] Completed,
}

public static class BuildStatusNames
{
    public static string ToWire(this BuildStatus status) => status switch
    {
        BuildStatus.Pending => "PENDING",
        BuildStatus.Running => "RUNNING",
        BuildStatus.Completed => "COMPLETED",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "unknown build status"),
    };

    public static BuildStatus Parse(string text) => text switch
    {
        "PENDING" => BuildStatus.Pending,
        "RUNNING" => BuildStatus.Running,
        "COMPLETED" => BuildStatus.Completed,
        _ => throw new FormatException($"unknown build status '{text}'"),
    };
}

/// <summary>
/// The durable record of one build attempt (<c>bd-&lt;containerId&gt;_&lt;attempt&gt;</c>). Timestamps are kept with
/// microsecond precision and <see cref="Duration"/> with millisecond precision by every store, so a record read back
/// equals the one written when its values are already that coarse.
/// </summary>
public sealed record BuildRecord
{
    [JsonPropertyName("buildId")] public required string BuildId { get; init; }
    [JsonPropertyName("containerId")] public required string ContainerId { get; init; }
    [JsonPropertyName("targetImage")] public required string TargetImage { get; init; }
    [JsonPropertyName("dockerfile")] public string? Dockerfile { get; init; }
    [JsonPropertyName("condaFile")] public string? CondaFile { get; init; }
    [JsonPropertyName("spackFile")] public string? SpackFile { get; init; }

    /// <summary><c>linux/amd64</c> or <c>linux/arm64</c>.</summary>
    [JsonPropertyName("platform")] public required string Platform { get; init; }

    /// <summary><c>docker</c> or <c>sif</c>.</summary>
    [JsonPropertyName("format")] public string Format { get; init; } = "docker";

    [JsonPropertyName("status")] public BuildStatus Status { get; init; } = BuildStatus.Pending;

    /// <summary>Null until the build completed.</summary>
    [JsonPropertyName("succeeded")] public bool? Succeeded { get; init; }

    [JsonPropertyName("exitCode")] public int? ExitCode { get; init; }
    [JsonPropertyName("failureReason")] public string? FailureReason { get; init; }
    [JsonPropertyName("imageDigest")] public string? ImageDigest { get; init; }
    [JsonPropertyName("userId")] public string? UserId { get; init; }
    [JsonPropertyName("userName")] public string? UserName { get; init; }
    [JsonPropertyName("userEmail")] public string? UserEmail { get; init; }
    [JsonPropertyName("requestIp")] public string? RequestIp { get; init; }
    [JsonPropertyName("createdAt")] public required DateTimeOffset CreatedAt { get; init; }
    [JsonPropertyName("startedAt")] public DateTimeOffset? StartedAt { get; init; }
    [JsonPropertyName("completedAt")] public DateTimeOffset? CompletedAt { get; init; }
    [JsonPropertyName("duration")] public TimeSpan? Duration { get; init; }

    /// <summary>N of <c>bd-&lt;containerId&gt;_N</c>: the how-many-th build of this content.</summary>
    [JsonPropertyName("attempt")] public int Attempt { get; init; } = 1;

    /// <summary>A pending record for a job about to be queued.</summary>
    public static BuildRecord Pending(BuildJob job, int attempt, string? condaFile = null, string? spackFile = null,
        string? userName = null, string? userEmail = null, string? requestIp = null, string? userId = null) => new()
        {
            BuildId = job.BuildId,
            ContainerId = job.ContainerId,
            TargetImage = job.TargetImage,
            Dockerfile = job.Dockerfile,
            CondaFile = condaFile,
            SpackFile = spackFile,
            Platform = job.Platform,
            Format = job.Format,
            UserId = userId,
            UserName = userName,
            UserEmail = userEmail,
            RequestIp = requestIp,
            CreatedAt = job.CreatedAt,
            Attempt = attempt,
        };
}

/// <summary>
/// A piece of a build's log read from <see cref="Offset"/>: <see cref="NextOffset"/> is where the next read continues.
/// Offsets count UTF-16 characters from the log's start. <see cref="Truncated"/> says the log reached its size cap and
/// later output was dropped.
/// </summary>
public sealed record BuildLogSlice(string Text, long Offset, long NextOffset, bool Truncated);
