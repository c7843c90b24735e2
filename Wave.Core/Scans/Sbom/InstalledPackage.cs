namespace Wave.Core.Scans.Sbom;

/// <summary>The package managers whose records Wave reads from an image.</summary>
public enum PackageKind
{
    /// <summary>dpkg (Debian, Ubuntu, distroless): <c>var/lib/dpkg/status</c>, <c>var/lib/dpkg/status.d/*</c>.</summary>
    Dpkg,
    /// <summary>apk (Alpine, Wolfi): <c>lib/apk/db/installed</c>.</summary>
    Apk,
    /// <summary>Conda and mamba: <c>conda-meta/*.json</c> of each environment.</summary>
    Conda,
    /// <summary>Python distributions: <c>*.dist-info/METADATA</c>, <c>*.egg-info</c>.</summary>
    Python,
}

/// <summary>
/// One installed package as its package manager recorded it. <see cref="SourceName"/> and <see cref="SourceVersion"/>
/// are the source package (dpkg's <c>Source:</c>) or origin (apk's <c>o:</c>) it was built from, which is what
/// distribution advisories name; <see cref="Location"/> is the file the record was read from.
/// </summary>
public sealed record InstalledPackage
{
    public required PackageKind Kind { get; init; }
    public required string Name { get; init; }
    public required string Version { get; init; }
    public required string Location { get; init; }
    public string? SourceName { get; init; }
    public string? SourceVersion { get; init; }
    public string? Architecture { get; init; }
    public string? License { get; init; }

    /// <summary>Conda: the build string (<c>py311h64a7726_0</c>).</summary>
    public string? Build { get; init; }

    /// <summary>Conda: the channel name (<c>conda-forge</c>).</summary>
    public string? Channel { get; init; }

    /// <summary>Conda: the platform subdirectory (<c>linux-64</c>, <c>noarch</c>).</summary>
    public string? Subdir { get; init; }
}

/// <summary>The distribution an image says it is (<c>/etc/os-release</c>, else <c>/etc/alpine-release</c> or <c>/etc/debian_version</c>).</summary>
/// <param name="Id">os-release <c>ID</c>: <c>debian</c>, <c>ubuntu</c>, <c>alpine</c>.</param>
/// <param name="VersionId">os-release <c>VERSION_ID</c>: <c>12</c>, <c>22.04</c>, <c>3.19.1</c>; null when it has none (Debian testing).</param>
public sealed record Distribution(string Id, string? VersionId, string? PrettyName);

/// <summary>What an image has installed: its distribution, when it names one, and its packages in a stable order.</summary>
public sealed record ImageContents(Distribution? Distribution, IReadOnlyList<InstalledPackage> Packages, IReadOnlyList<string> Problems)
{
    public int Count(PackageKind kind) => Packages.Count(p => p.Kind == kind);
}
