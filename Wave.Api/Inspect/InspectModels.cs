using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Wave.Api.Inspect;

/// <summary>The body of <c>POST /v1alpha1/inspect</c>.</summary>
public sealed record InspectRequest
{
    public string? ContainerImage { get; init; }
    public string? TowerAccessToken { get; init; }
    public string? TowerRefreshToken { get; init; }
    public string? TowerEndpoint { get; init; }

    /// <summary>A number (the Wave API and its clients send one; a numeric string is read too).</summary>
    public long? TowerWorkspaceId { get; init; }
}

/// <summary>
/// The answer, the Wave server's ContainerInspectResponse: <c>container</c> for an image manifest, or <c>index</c> for
/// a multi-platform image inspected without a platform. Exactly one is present.
/// </summary>
public sealed record InspectResponse(
    [property: JsonPropertyName("container"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ContainerSpec? Container,
    [property: JsonPropertyName("index"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IndexSpec? Index = null);

/// <summary>
/// What the API reference calls the <c>container</c> object: where an image lives, its manifest as the registry has it,
/// and its config in the camelCase shape the clients parse (<see cref="ConfigSpec"/>).
/// </summary>
public sealed record ContainerSpec(
    [property: JsonPropertyName("registry")] string Registry,
    [property: JsonPropertyName("hostName")] string HostName,
    [property: JsonPropertyName("imageName")] string ImageName,
    [property: JsonPropertyName("reference")] string Reference,
    [property: JsonPropertyName("digest")] string Digest,
    [property: JsonPropertyName("config")] ConfigSpec Config,
    [property: JsonPropertyName("manifest")] JsonNode Manifest,
    [property: JsonPropertyName("v1")] bool V1,
    [property: JsonPropertyName("v2")] bool V2,
    [property: JsonPropertyName("oci")] bool Oci);

/// <summary>
/// An image config as the Wave API shows it (wave-api ConfigSpec): the registry's capitalised runtime keys
/// (<c>Env</c>, <c>Cmd</c>, <c>WorkingDir</c>, ...) become camelCase, lists and labels are empty rather than missing,
/// <c>created</c> is UTC ISO-8601.
/// </summary>
public sealed record ConfigSpec(
    [property: JsonPropertyName("architecture")] string? Architecture,
    [property: JsonPropertyName("config")] ConfigSpec.RuntimeConfig Config,
    [property: JsonPropertyName("container")] string? Container,
    [property: JsonPropertyName("created")] DateTime? Created,
    [property: JsonPropertyName("rootfs")] ConfigSpec.RootfsSpec Rootfs)
{
    public sealed record RuntimeConfig(
        [property: JsonPropertyName("hostName")] string? HostName,
        [property: JsonPropertyName("domainName")] string? DomainName,
        [property: JsonPropertyName("user")] string? User,
        [property: JsonPropertyName("attachStdin")] bool? AttachStdin,
        [property: JsonPropertyName("attachStdout")] bool? AttachStdout,
        [property: JsonPropertyName("attachStderr")] bool? AttachStderr,
        [property: JsonPropertyName("tty")] bool? Tty,
        [property: JsonPropertyName("env")] IReadOnlyList<string> Env,
        [property: JsonPropertyName("cmd")] IReadOnlyList<string> Cmd,
        [property: JsonPropertyName("image")] string? Image,
        [property: JsonPropertyName("workingDir")] string? WorkingDir,
        [property: JsonPropertyName("entrypoint")] IReadOnlyList<string> Entrypoint,
        [property: JsonPropertyName("labels")] IReadOnlyDictionary<string, string> Labels);

    public sealed record RootfsSpec(
        [property: JsonPropertyName("type")] string? Type,
        [property: JsonPropertyName("diff_ids")] IReadOnlyList<string> DiffIds);

    /// <summary>The spec of a config blob as the registry serves it.</summary>
    public static ConfigSpec Parse(JsonNode config)
    {
        var runtime = config["config"] as JsonObject ?? [];
        var rootfs = config["rootfs"] as JsonObject ?? [];
        return new ConfigSpec(
            Text(config["architecture"]),
            new RuntimeConfig(
                Text(runtime["Hostname"]), Text(runtime["Domainname"]), Text(runtime["User"]),
                Bool(runtime["AttachStdin"]), Bool(runtime["AttachStdout"]), Bool(runtime["AttachStderr"]), Bool(runtime["Tty"]),
                Strings(runtime["Env"]), Strings(runtime["Cmd"]), Text(runtime["Image"]), Text(runtime["WorkingDir"]), Strings(runtime["Entrypoint"]),
                runtime["Labels"] is JsonObject labels
                    ? labels.Where(l => l.Value is JsonValue).ToDictionary(l => l.Key, l => l.Value!.ToString(), StringComparer.Ordinal)
                    : new Dictionary<string, string>()),
            Text(config["container"]),
            Text(config["created"]) is { } created && DateTimeOffset.TryParse(created, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at.UtcDateTime : null,
            new RootfsSpec(Text(rootfs["type"]), Strings(rootfs["diff_ids"])));
    }

    private static string? Text(JsonNode? node) => node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

    private static bool? Bool(JsonNode? node) => node is JsonValue value && value.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? value.GetValue<bool>() : null;

    private static IReadOnlyList<string> Strings(JsonNode? node) =>
        node is JsonArray array ? [.. array.Select(Text).OfType<string>()] : [];
}

/// <summary>A multi-platform image's index (wave-api IndexSpec): its entries with their platforms, and its digest.</summary>
public sealed record IndexSpec(
    [property: JsonPropertyName("schemaVersion")] int SchemaVersion,
    [property: JsonPropertyName("mediaType")] string? MediaType,
    [property: JsonPropertyName("manifests")] IReadOnlyList<IndexSpec.ManifestEntry> Manifests,
    [property: JsonPropertyName("digest")] string Digest)
{
    public sealed record ManifestEntry(
        [property: JsonPropertyName("mediaType")] string? MediaType,
        [property: JsonPropertyName("digest")] string Digest,
        [property: JsonPropertyName("size")] long Size,
        [property: JsonPropertyName("annotations"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, string>? Annotations,
        [property: JsonPropertyName("platform"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] PlatformEntry? Platform);

    public sealed record PlatformEntry(
        [property: JsonPropertyName("architecture")] string? Architecture,
        [property: JsonPropertyName("os")] string? Os,
        [property: JsonPropertyName("variant"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Variant);
}
