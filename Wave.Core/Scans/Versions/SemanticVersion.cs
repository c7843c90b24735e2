using Semver;

namespace Wave.Core.Scans.Versions;

/// <summary>SemVer 2.0 precedence (OSV <c>SEMVER</c> ranges), by the Semver package; build metadata does not count.</summary>
public sealed class SemanticVersion : IVersionOrdering
{
    public static readonly SemanticVersion Ordering = new();

    // OSV asks for SemVer 2.0 without a "v" prefix; real advisories also carry "1.2" and leading zeros, which a
    // strict parse would leave unordered.
    private const SemVersionStyles Styles = SemVersionStyles.AllowLeadingZeros | SemVersionStyles.OptionalMinorPatch | SemVersionStyles.AllowWhitespace;

    public bool IsValid(string version) => SemVersion.TryParse(version, Styles, out _);

    public int? Compare(string left, string right) =>
        SemVersion.TryParse(left, Styles, out var a) && SemVersion.TryParse(right, Styles, out var b)
            ? Math.Sign(SemVersion.ComparePrecedence(a, b))
            : null;
}
