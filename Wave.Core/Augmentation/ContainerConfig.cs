using System.Text.Json.Serialization;

namespace Wave.Core.Augmentation;

/// <summary>The <c>containerConfig</c> of a container request: what to change and which layers to add.</summary>
public sealed record ContainerConfig
{
    [JsonPropertyName("entrypoint")] public IReadOnlyList<string>? Entrypoint { get; init; }
    [JsonPropertyName("cmd")] public IReadOnlyList<string>? Cmd { get; init; }
    [JsonPropertyName("env")] public IReadOnlyList<string>? Env { get; init; }
    [JsonPropertyName("workingDir")] public string? WorkingDir { get; init; }
    [JsonPropertyName("layers")] public IReadOnlyList<ContainerLayer>? Layers { get; init; }

    [JsonIgnore]
    public bool IsEmpty => Entrypoint is null && Cmd is null && Env is not { Count: > 0 } && WorkingDir is null && Layers is not { Count: > 0 };
}

/// <summary>A layer to add: a gzip tar at <see cref="Location"/> (http(s) URL or <c>data:</c> base64).</summary>
public sealed record ContainerLayer
{
    [JsonPropertyName("location")] public string? Location { get; init; }
    [JsonPropertyName("gzipDigest")] public string? GzipDigest { get; init; }
    [JsonPropertyName("gzipSize")] public long GzipSize { get; init; }
    [JsonPropertyName("tarDigest")] public string? TarDigest { get; init; }
}
