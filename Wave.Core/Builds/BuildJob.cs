using System.Text.Json.Serialization;

namespace Wave.Core.Builds;

/// <summary>
/// One build to run: everything a backend needs, and nothing it has to look up. The Dockerfile is final (templates
/// already applied); <see cref="ContextFiles"/> holds the files it COPYs (e.g. <c>conda.yml</c>), by relative path.
/// </summary>
public sealed record BuildJob
{
    [JsonPropertyName("buildId")] public required string BuildId { get; init; }
    [JsonPropertyName("containerId")] public required string ContainerId { get; init; }

    /// <summary>Where the result is pushed, <c>registry/repository:tag</c>.</summary>
    [JsonPropertyName("targetImage")] public required string TargetImage { get; init; }

    [JsonPropertyName("dockerfile")] public required string Dockerfile { get; init; }
    [JsonPropertyName("contextFiles")] public IReadOnlyDictionary<string, string> ContextFiles { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Binary files of the build context by relative path, e.g. <c>layer-0.tar.gz</c> for a frozen layer (which the
    /// Dockerfile <c>ADD</c>s, and ADD unpacks a local tar.gz). Serialised as base64.
    /// </summary>
    [JsonPropertyName("binaryContextFiles")] public IReadOnlyDictionary<string, byte[]> BinaryContextFiles { get; init; } = new Dictionary<string, byte[]>();

    /// <summary>
    /// Layers at http(s) locations still to be fetched into the context (as <see cref="RemoteLayer.Path"/>, checked
    /// against their gzip digest) before the backend runs; empty once fetched.
    /// </summary>
    [JsonPropertyName("remoteLayers")] public IReadOnlyList<RemoteLayer> RemoteLayers { get; init; } = [];

    /// <summary>
    /// <c>linux/amd64</c> or <c>linux/arm64</c>; or several, comma-separated (<c>linux/amd64,linux/arm64</c>): the
    /// builder then builds each and pushes an image index (see <see cref="Platforms"/>).
    /// </summary>
    [JsonPropertyName("platform")] public required string Platform { get; init; }

    /// <summary>The platforms of <see cref="Platform"/>, one per comma-separated part.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> Platforms => Platform.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The request's build context archive, unpacked into the context first; null for none.</summary>
    [JsonPropertyName("buildContext")] public BuildContextArchive? BuildContext { get; init; }

    /// <summary>Text files still to be fetched into the context (a remote Conda lock file); empty once fetched.</summary>
    [JsonPropertyName("remoteFiles")] public IReadOnlyList<RemoteContextFile> RemoteFiles { get; init; } = [];

    /// <summary>How the pushed layers are compressed; null for the backend's default (gzip).</summary>
    [JsonPropertyName("compression")] public BuildCompression? Compression { get; init; }

    /// <summary>A repository used as a registry layer cache, or null.</summary>
    [JsonPropertyName("cacheRepository")] public string? CacheRepository { get; init; }

    /// <summary><c>docker</c> or <c>sif</c>.</summary>
    [JsonPropertyName("format")] public string Format { get; init; } = "docker";

    [JsonPropertyName("createdAt")] public required DateTimeOffset CreatedAt { get; init; }
    [JsonPropertyName("timeout")] public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(900);

    /// <summary>
    /// Set for a job of the mirror kind: a copy of an image to another registry, nothing to build (the build fields
    /// then only name it; see <see cref="Mirrors.MirrorJob.ToQueuedJob"/>). Mirrors share the build queue, so they are
    /// as durable as builds and run on the builders.
    /// </summary>
    [JsonPropertyName("mirror")] public Mirrors.MirrorJob? Mirror { get; init; }
}

/// <summary>How a build ended. <see cref="FailureReason"/> is a short human sentence ("timed out", "exit code 1").</summary>
public sealed record BuildOutcome(bool Succeeded, int? ExitCode, string? ImageDigest, string? FailureReason, TimeSpan Duration);

/// <summary>Receives a build's log as it is produced (already ANSI-stripped by the backend).</summary>
public interface IBuildLogSink
{
    ValueTask AppendAsync(string text, CancellationToken cancellationToken);
}

/// <summary>Runs one build to its end: local buildah, or a Kubernetes Job.</summary>
public interface IBuildBackend
{
    /// <param name="pushCredentials">Credentials per registry host for the push and the cache (never written to logs).</param>
    Task<BuildOutcome> RunAsync(BuildJob job, IReadOnlyDictionary<string, Registry.RegistryCredentials> pushCredentials, IBuildLogSink log, CancellationToken cancellationToken);
}
