using System.Text.Json.Serialization;

namespace Wave.Core.Builds;

/// <summary>
/// A request's <c>buildContext</c>: a gzip tar unpacked as the build context before the recipe's own files are written
/// into it. Either <see cref="Data"/> holds it (a <c>data:</c> location, checked when the request was planned) or the
/// builder fetches it from <see cref="Location"/> and checks it against <see cref="GzipSize"/>, <see cref="GzipDigest"/>
/// and <see cref="TarDigest"/> before unpacking it.
/// </summary>
public sealed record BuildContextArchive
{
    [JsonPropertyName("location")] public Uri? Location { get; init; }
    [JsonPropertyName("data")] public byte[]? Data { get; init; }
    [JsonPropertyName("gzipDigest")] public required string GzipDigest { get; init; }
    [JsonPropertyName("gzipSize")] public required long GzipSize { get; init; }
    [JsonPropertyName("tarDigest")] public required string TarDigest { get; init; }
}

/// <summary>
/// A text file of the build context the builder fetches from an http(s) URL whose content the request does not pin,
/// e.g. a remote Conda lock file: fetched under the outbound-address policy, at most <see cref="MaxBytes"/>.
/// </summary>
public sealed record RemoteContextFile(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("location")] Uri Location,
    [property: JsonPropertyName("maxBytes")] long MaxBytes);

/// <summary>How the built image's layers are compressed when pushed: <see cref="Mode"/> gzip or zstd, and a level.</summary>
public sealed record BuildCompression(
    [property: JsonPropertyName("mode")] string Mode,
    [property: JsonPropertyName("level")] int? Level,
    [property: JsonPropertyName("force")] bool Force)
{
    public const string Gzip = "gzip";
    public const string Zstd = "zstd";
    public const string Estargz = "estargz";

    public static readonly IReadOnlyList<string> Modes = [Gzip, Zstd, Estargz];

    /// <summary>The highest level of a mode: 9 for gzip and estargz, 22 for zstd.</summary>
    public static int MaxLevel(string mode) => mode == Zstd ? 22 : 9;

    /// <summary>The text the container id hashes: <c>mode</c>, then <c>level=N</c> and <c>force</c> when set.</summary>
    public override string ToString() => Mode + (Level is { } level ? $" level={level}" : "") + (Force ? " force" : "");
}
