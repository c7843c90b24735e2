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

    /// <summary>
    /// A gzip tar unpacked as the build context (what the Dockerfile's <c>COPY</c> reads), located and checked like a
    /// layer: <c>data:</c> or an http(s) URL, with its gzip size and digest and the digest of the tar inside.
    /// </summary>
    [JsonPropertyName("buildContext")] public ContainerLayer? BuildContext { get; init; }

    /// <summary>Images whose content is merged into the built image, on top of the recipe's result (at most 10).</summary>
    [JsonPropertyName("containerIncludes")] public IReadOnlyList<string>? ContainerIncludes { get; init; }

    /// <summary>
    /// The template of a <c>packages</c> build: <c>conda/micromamba:v2</c> (the default for CONDA), <c>conda/micromamba:v1</c>,
    /// <c>conda/pixi:v1</c>, <c>cran/installr:v1</c> (the default for CRAN). Ignored for other recipes, as clients send it
    /// with every request.
    /// </summary>
    [JsonPropertyName("buildTemplate")] public string? BuildTemplate { get; init; }

    /// <summary>How the built image's layers are compressed when pushed.</summary>
    [JsonPropertyName("buildCompression")] public BuildCompressionFields? BuildCompression { get; init; }

    /// <summary>True when the request asks for a build rather than an augmentation.</summary>
    [JsonIgnore]
    public bool AsksForBuild => ContainerFile is not null || CondaFile is not null || SpackFile is not null || Packages is not null || Freeze;
}

/// <summary>The v2 <c>packages</c> object: packages to install, or an environment file, with their options.</summary>
public sealed record PackagesFields
{
    /// <summary><c>CONDA</c> or <c>CRAN</c>; a Spack recipe is sent as <c>spackFile</c>.</summary>
    [JsonPropertyName("type")] public string? Type { get; init; }

    /// <summary>A Conda environment file, base64.</summary>
    [JsonPropertyName("environment")] public string? Environment { get; init; }

    /// <summary>
    /// Package specs, e.g. <c>bioconda::salmon=1.10.3</c> (CONDA) or <c>dplyr</c>, <c>bioc::limma</c> (CRAN). A CONDA
    /// entry that is an http(s) URL names a Conda lock file to install, and must then be the only entry.
    /// </summary>
    [JsonPropertyName("entries")] public IReadOnlyList<string>? Entries { get; init; }

    [JsonPropertyName("channels")] public IReadOnlyList<string>? Channels { get; init; }
    [JsonPropertyName("condaOpts")] public CondaOptsFields? CondaOpts { get; init; }

    /// <summary>Options of the <c>conda/pixi:v1</c> template.</summary>
    [JsonPropertyName("pixiOpts")] public PixiOptsFields? PixiOpts { get; init; }

    /// <summary>Options of the <c>cran/installr:v1</c> template.</summary>
    [JsonPropertyName("cranOpts")] public CranOptsFields? CranOpts { get; init; }

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

    /// <summary>The image the environment is copied into by the multi-stage <c>conda/micromamba:v2</c> template.</summary>
    [JsonPropertyName("baseImage")] public string? BaseImage { get; init; }
}

public sealed record PixiOptsFields
{
    /// <summary>The image with pixi that resolves and installs the environment.</summary>
    [JsonPropertyName("pixiImage")] public string? PixiImage { get; init; }

    /// <summary>The image the installed environment is copied into.</summary>
    [JsonPropertyName("baseImage")] public string? BaseImage { get; init; }

    /// <summary>Space-separated package specs added with <c>pixi add</c> (null: the configured default).</summary>
    [JsonPropertyName("basePackages")] public string? BasePackages { get; init; }

    [JsonPropertyName("commands")] public IReadOnlyList<string>? Commands { get; init; }
}

public sealed record CranOptsFields
{
    /// <summary>The R image the packages are installed into (a rocker image with littler's <c>install2.r</c>).</summary>
    [JsonPropertyName("rImage")] public string? RImage { get; init; }

    /// <summary>Space-separated Debian packages installed with apt-get first (null: the configured default).</summary>
    [JsonPropertyName("basePackages")] public string? BasePackages { get; init; }

    [JsonPropertyName("commands")] public IReadOnlyList<string>? Commands { get; init; }
}

/// <summary><c>buildCompression</c>: <c>mode</c> gzip, zstd or estargz, an optional <c>level</c>, and <c>force</c>.</summary>
public sealed record BuildCompressionFields
{
    [JsonPropertyName("mode")] public string? Mode { get; init; }
    [JsonPropertyName("level")] public int? Level { get; init; }

    /// <summary>Recompress layers that are already compressed (the base image's) too.</summary>
    [JsonPropertyName("force")] public bool? Force { get; init; }
}

public sealed record SpackOptsFields
{
    [JsonPropertyName("commands")] public IReadOnlyList<string>? Commands { get; init; }
    [JsonPropertyName("basePackages")] public string? BasePackages { get; init; }
}
