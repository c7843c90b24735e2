using Wave.Core.Names;

namespace Wave.Core.Builds;

/// <summary>What kind of recipe a build comes from; decides e.g. whether a Conda lock is expected in its log.</summary>
public enum BuildKind
{
    Dockerfile,
    Conda,
    Spack,

    /// <summary><c>containerImage</c> (plus <c>containerConfig</c>) frozen into a durable image.</summary>
    Freeze,

    /// <summary>R packages from CRAN or Bioconductor (<c>packages.type: CRAN</c>).</summary>
    Cran,

    /// <summary>A Singularity definition file (sent as <c>containerFile</c> with format sif), translated to a Dockerfile.</summary>
    Singularity,
}

/// <summary>
/// A validated build: the final Dockerfile, its context, and the name it is pushed under. Pure data: making it did
/// no I/O. Layers at http(s) locations are listed in <see cref="RemoteLayers"/>: the caller fetches and verifies
/// them into the context (as <see cref="RemoteLayer.Path"/>) before the build runs.
/// </summary>
public sealed record BuildPlan
{
    public required BuildKind Kind { get; init; }

    /// <summary>16 lower-case hex digits identifying the image content (see <see cref="ContainerId"/>).</summary>
    public required string ContainerId { get; init; }

    public required string Dockerfile { get; init; }

    /// <summary>Text files of the build context by relative path (<c>conda.yml</c>, <c>spack.yaml</c>).</summary>
    public required IReadOnlyDictionary<string, string> ContextFiles { get; init; }

    /// <summary>Binary files of the build context by relative path (inline layers, <c>layer-N.tar.gz</c>).</summary>
    public required IReadOnlyDictionary<string, byte[]> BinaryContextFiles { get; init; }

    /// <summary>Layers the caller must download into the context before the build (their digests are already in the id).</summary>
    public required IReadOnlyList<RemoteLayer> RemoteLayers { get; init; }

    /// <summary>The platform built; for a multi-platform build the first of <see cref="Platforms"/>.</summary>
    public required ContainerPlatform Platform { get; init; }

    /// <summary>Every platform built, in canonical order (amd64 before arm64); more than one makes an image index.</summary>
    public IReadOnlyList<ContainerPlatform> Platforms { get => _platforms ?? [Platform]; init => _platforms = value; }

    private readonly IReadOnlyList<ContainerPlatform>? _platforms;

    /// <summary>True when the build pushes an image index of several platforms: a pull then picks the client's platform.</summary>
    public bool IsMultiPlatform => Platforms.Count > 1;

    /// <summary><c>linux/amd64</c>, or for several platforms <c>linux/amd64,linux/arm64</c> (what the content id hashes).</summary>
    public string PlatformText => string.Join(',', Platforms.Select(p => p.ToString()));

    /// <summary>The request's <c>buildContext</c>, unpacked as the build context before the recipe's files; null for none.</summary>
    public BuildContextArchive? BuildContext { get; init; }

    /// <summary>Text files the builder fetches into the context (a remote Conda lock file).</summary>
    public IReadOnlyList<RemoteContextFile> RemoteFiles { get; init; } = [];

    /// <summary>The requested layer compression, or null for the builder's default (gzip).</summary>
    public BuildCompression? Compression { get; init; }

    /// <summary>The normalised build repository, <c>registry/repository</c>, without the image-suffix part.</summary>
    public required string BuildRepository { get; init; }

    /// <summary>Where the image is pushed: <c>registry/repository[/suffix]:tag</c>.</summary>
    public required string TargetImage { get; init; }

    public required string Tag { get; init; }

    public required NameStrategy NameStrategy { get; init; }

    /// <summary>Normalised cache repository, or null for none.</summary>
    public string? CacheRepository { get; init; }

    /// <summary><c>docker</c> or <c>sif</c>.</summary>
    public required string Format { get; init; }

    /// <summary>
    /// The name the client is answered: <see cref="TargetImage"/> for a container image, <c>oras://</c> before it for a
    /// SIF (what <c>singularity pull</c> takes).
    /// </summary>
    public string ResultImage => Format == BuildPlanner.SifFormat ? SifOrasPrefix + TargetImage : TargetImage;

    public const string SifOrasPrefix = "oras://";

    public required bool Freeze { get; init; }

    public required TimeSpan Timeout { get; init; }

    /// <summary><c>bd-&lt;containerId&gt;_&lt;attempt&gt;</c>.</summary>
    public string BuildId(int attempt) => Builds.BuildId.Format(ContainerId, attempt);

    /// <summary>
    /// The job a backend runs for attempt <paramref name="attempt"/> of this plan. Layers at http(s) locations travel as
    /// <see cref="BuildJob.RemoteLayers"/>: the builder fetches and verifies them into the context before building, so
    /// that a queued job stays small.
    /// </summary>
    public BuildJob ToJob(int attempt, DateTimeOffset createdAt) => new()
    {
        BuildId = BuildId(attempt),
        ContainerId = ContainerId,
        TargetImage = TargetImage,
        Dockerfile = Dockerfile,
        ContextFiles = ContextFiles,
        BinaryContextFiles = BinaryContextFiles,
        RemoteLayers = RemoteLayers,
        Platform = PlatformText,
        BuildContext = BuildContext,
        RemoteFiles = RemoteFiles,
        Compression = Compression,
        CacheRepository = CacheRepository,
        Format = Format,
        CreatedAt = createdAt,
        Timeout = Timeout,
    };
}

/// <summary>A frozen layer at an http(s) URL: fetch it into the context as <see cref="Path"/> and check it against <see cref="GzipDigest"/>.</summary>
public sealed record RemoteLayer(
    [property: System.Text.Json.Serialization.JsonPropertyName("path")] string Path,
    [property: System.Text.Json.Serialization.JsonPropertyName("location")] Uri Location,
    [property: System.Text.Json.Serialization.JsonPropertyName("gzipDigest")] string GzipDigest,
    [property: System.Text.Json.Serialization.JsonPropertyName("gzipSize")] long GzipSize);
