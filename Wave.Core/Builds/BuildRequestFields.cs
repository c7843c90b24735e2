using System.Text.Json.Serialization;

using Wave.Core.Augmentation;

namespace Wave.Core.Builds;

/// <summary>
/// The fields of a container request that shape a build, as the client sent them: recipes still base64, names
/// not yet parsed. <see cref="BuildPlanner"/> turns them into a <see cref="BuildPlan"/> or says which field is wrong.
/// </summary>
public sealed record BuildRequestFields
{
    [JsonPropertyName("containerImage")] public string? ContainerImage { get; init; }

    /// <summary>A Dockerfile, base64.</summary>
    [JsonPropertyName("containerFile")] public string? ContainerFile { get; init; }

    [JsonPropertyName("containerConfig")] public ContainerConfig? ContainerConfig { get; init; }

    /// <summary>A Conda environment file, base64 (the v1 form of <see cref="Packages"/>).</summary>
    [JsonPropertyName("condaFile")] public string? CondaFile { get; init; }

    /// <summary>A Spack environment (<c>spack.yaml</c>), base64.</summary>
    [JsonPropertyName("spackFile")] public string? SpackFile { get; init; }

    [JsonPropertyName("packages")] public PackagesFields? Packages { get; init; }

    [JsonPropertyName("containerPlatform")] public string? ContainerPlatform { get; init; }
    [JsonPropertyName("buildRepository")] public string? BuildRepository { get; init; }
    [JsonPropertyName("cacheRepository")] public string? CacheRepository { get; init; }
    [JsonPropertyName("freeze")] public bool Freeze { get; init; }

    /// <summary><c>none</c>, <c>tagPrefix</c> (the default) or <c>imageSuffix</c>.</summary>
    [JsonPropertyName("nameStrategy")] public string? NameStrategy { get; init; }

    /// <summary><c>docker</c> (the default) or <c>sif</c> (also <c>singularity</c>): a Singularity image, which needs <c>freeze</c> and a <c>buildRepository</c>.</summary>
    [JsonPropertyName("format")] public string? Format { get; init; }

    /// <summary>True when the request asks for a build rather than an augmentation.</summary>
    [JsonIgnore]
    public bool AsksForBuild => ContainerFile is not null || CondaFile is not null || SpackFile is not null || Packages is not null || Freeze;
}

/// <summary>The v2 <c>packages</c> object: packages to install, or an environment file, with their options.</summary>
public sealed record PackagesFields
{
    /// <summary>Only <c>CONDA</c> is built; a Spack recipe is sent as <c>spackFile</c>.</summary>
    [JsonPropertyName("type")] public string? Type { get; init; }

    /// <summary>A Conda environment file, base64.</summary>
    [JsonPropertyName("environment")] public string? Environment { get; init; }

    /// <summary>Package specs, e.g. <c>bioconda::salmon=1.10.3</c>.</summary>
    [JsonPropertyName("entries")] public IReadOnlyList<string>? Entries { get; init; }

    [JsonPropertyName("channels")] public IReadOnlyList<string>? Channels { get; init; }
    [JsonPropertyName("condaOpts")] public CondaOptsFields? CondaOpts { get; init; }

    /// <summary>Accepted for compatibility; Spack options come from configuration (see docs/build-naming.md).</summary>
    [JsonPropertyName("spackOpts")] public SpackOptsFields? SpackOpts { get; init; }
}

public sealed record CondaOptsFields
{
    /// <summary>The image the Conda template builds on; a micromamba image.</summary>
    [JsonPropertyName("mambaImage")] public string? MambaImage { get; init; }

    /// <summary>Dockerfile lines appended after the environment is installed, one instruction per entry.</summary>
    [JsonPropertyName("commands")] public IReadOnlyList<string>? Commands { get; init; }

    /// <summary>Space-separated package specs installed next to the environment (null: the configured default).</summary>
    [JsonPropertyName("basePackages")] public string? BasePackages { get; init; }
}

public sealed record SpackOptsFields
{
    [JsonPropertyName("commands")] public IReadOnlyList<string>? Commands { get; init; }
    [JsonPropertyName("basePackages")] public string? BasePackages { get; init; }
}
