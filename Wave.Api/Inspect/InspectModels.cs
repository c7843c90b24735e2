using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Wave.Api.Inspect;

/// <summary>The body of <c>POST /v1alpha1/inspect</c>.</summary>
public sealed record InspectRequest
{
    public string? ContainerImage { get; init; }
    public string? TowerAccessToken { get; init; }
    public string? TowerEndpoint { get; init; }
    public string? TowerWorkspaceId { get; init; }
}

public sealed record InspectResponse([property: JsonPropertyName("container")] ContainerSpec Container);

/// <summary>What the API reference calls the <c>container</c> object: where an image lives and its manifest and config as the registry has them.</summary>
public sealed record ContainerSpec(
    [property: JsonPropertyName("registry")] string Registry,
    [property: JsonPropertyName("hostName")] string HostName,
    [property: JsonPropertyName("imageName")] string ImageName,
    [property: JsonPropertyName("reference")] string Reference,
    [property: JsonPropertyName("digest")] string Digest,
    [property: JsonPropertyName("config"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonNode? Config,
    [property: JsonPropertyName("manifest")] JsonNode Manifest,
    [property: JsonPropertyName("v1")] bool V1,
    [property: JsonPropertyName("v2")] bool V2,
    [property: JsonPropertyName("oci")] bool Oci);
