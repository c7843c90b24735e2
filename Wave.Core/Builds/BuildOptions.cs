namespace Wave.Core.Builds;

/// <summary>The service's side of a build request: defaults and limits (configuration section <see cref="Section"/>).</summary>
public sealed record BuildOptions
{
    public const string Section = "Wave:Build";

    /// <summary>Whether this service builds at all; when false a build request is a 400 that says so.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Where builds are pushed when the request names no <c>buildRepository</c>; null: the request must name one.</summary>
    public string? DefaultBuildRepository { get; init; }

    /// <summary>The registry layer cache when the request names no <c>cacheRepository</c>; null: no cache.</summary>
    public string? DefaultCacheRepository { get; init; }

    /// <summary>Largest decoded <c>containerFile</c>, in bytes (10 kB).</summary>
    public int MaxDockerfileBytes { get; init; } = 10 * 1024;

    /// <summary>Largest decoded Conda environment file (<c>condaFile</c>, <c>packages.environment</c>), in bytes (50 kB).</summary>
    public int MaxCondaFileBytes { get; init; } = 50 * 1024;

    /// <summary>Largest decoded <c>spackFile</c>, in bytes (50 kB).</summary>
    public int MaxSpackFileBytes { get; init; } = 50 * 1024;

    /// <summary>Largest uncompressed tar of a <c>data:</c> layer when freezing (stops gzip bombs).</summary>
    public long MaxLayerTarBytes { get; init; } = 512L * 1024 * 1024;

    public TimeSpan BuildTimeout { get; init; } = TimeSpan.FromSeconds(900);

    /// <summary>The platform built when the request names none.</summary>
    public string DefaultPlatform { get; init; } = "linux/amd64";

    /// <summary>The image the <c>conda/micromamba:v1</c> template (and a bare <c>condaFile</c>) starts from, unless <c>packages.condaOpts.mambaImage</c> names another.</summary>
    public string MambaImage { get; init; } = "mambaorg/micromamba:1.5.10-noble";

    /// <summary>
    /// The micromamba 2 image the <c>conda/micromamba:v2</c> template installs with. A request naming a micromamba 1.x
    /// image gets this one instead (clients send the v1 default with every request; the v2 template needs micromamba 2).
    /// </summary>
    public string MambaImageV2 { get; init; } = "mambaorg/micromamba:2-amazon2023";

    /// <summary>The image the multi-stage templates (<c>conda/micromamba:v2</c>, <c>conda/pixi:v1</c>) copy the environment into.</summary>
    public string CondaBaseImage { get; init; } = "ubuntu:24.04";

    /// <summary>The image with pixi of the <c>conda/pixi:v1</c> template.</summary>
    public string PixiImage { get; init; } = "public.cr.seqera.io/wave/pixi:0.61.0-noble";

    /// <summary>Added with <c>pixi add</c> to every pixi environment unless <c>pixiOpts.basePackages</c> says otherwise.</summary>
    public string PixiBasePackages { get; init; } = "conda-forge::procps-ng";

    /// <summary>The R image of the <c>cran/installr:v1</c> template.</summary>
    public string CranImage { get; init; } = "rocker/r-ver:4.4.1";

    /// <summary>Debian packages installed before the R packages unless <c>cranOpts.basePackages</c> says otherwise.</summary>
    public string CranBasePackages { get; init; } = "littler r-cran-docopt";

    /// <summary>Largest remote Conda lock file (a <c>packages.entries</c> URL) the builder fetches, in bytes (1 MiB).</summary>
    public int MaxCondaLockBytes { get; init; } = 1024 * 1024;

    /// <summary>
    /// The <c>buildCompression.mode</c> values the build backend can write. buildah 1.28 (the local backend) writes gzip
    /// and zstd, not estargz; a deployment whose backend does more may list it.
    /// </summary>
    public IReadOnlyList<string> Compressions { get; init; } = ["gzip", "zstd"];

    /// <summary>Whether the backend can recompress existing (base image) layers, as <c>buildCompression.force</c> asks; buildah 1.28 cannot.</summary>
    public bool CanForceCompression { get; init; }

    /// <summary>Installed next to every Conda environment unless <c>condaOpts.basePackages</c> says otherwise (<c>ps</c> for Nextflow).</summary>
    public string CondaBasePackages { get; init; } = "conda-forge::procps-ng";

    /// <summary>Channels of a Conda environment made from <c>packages.entries</c> when the request names none.</summary>
    public IReadOnlyList<string> DefaultCondaChannels { get; init; } = ["conda-forge", "bioconda"];

    /// <summary>The image with Spack that concretizes and installs a <c>spack.yaml</c>.</summary>
    public string SpackBuilderImage { get; init; } = "spack/ubuntu-jammy:0.22.2";

    /// <summary>The image the installed Spack software is copied into.</summary>
    public string SpackRunnerImage { get; init; } = "ubuntu:22.04";

    /// <summary>
    /// Registry hosts builds may push to and cache in (e.g. the hosts Wave holds credentials for, and local
    /// registries). Empty: any host.
    /// </summary>
    public IReadOnlyList<string> PushRegistries { get; init; } = [];
}
