namespace Wave.Core.Scans.Versions;

/// <summary>
/// How one package ecosystem orders its version strings. No NuGet package implements the orderings of dpkg, apk,
/// PEP 440 or conda, so each is written here from its specification (see each type's remarks); SEMVER ranges use the
/// Semver package.
/// </summary>
public interface IVersionOrdering
{
    /// <summary>True when <paramref name="version"/> is a version this ecosystem can order.</summary>
    bool IsValid(string version);

    /// <summary>
    /// Negative, zero or positive as <paramref name="left"/> sorts before, with or after <paramref name="right"/>;
    /// null when either is not a valid version of the ecosystem (the caller then cannot say whether it is in a range).
    /// </summary>
    int? Compare(string left, string right);
}
