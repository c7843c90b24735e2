using System.Globalization;
using System.Numerics;
using System.Text.RegularExpressions;

namespace Wave.Core.Scans.Versions;

/// <summary>
/// PEP 440 version ordering (PyPI): <c>[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]</c>, with the spelling variants
/// PEP 440 normalises (alpha, beta, c, pre, preview, rev, r, an implicit post-release <c>1.0-1</c>, separators
/// <c>. - _</c>, a leading <c>v</c>, any case). Order: epoch, then the release numbers (trailing zeros do not count),
/// then a version with only a dev part before its pre-releases, pre-releases (a &lt; b &lt; rc) before the release,
/// post-releases after it, a dev part before the version without it, and a local version after the public one
/// (numeric local segments after alphanumeric ones). Strings that are not PEP 440 versions are not ordered.
/// </summary>
public sealed partial class PythonVersion : IVersionOrdering
{
    public static readonly PythonVersion Ordering = new();

    public bool IsValid(string version) => Parse(version) is not null;

    public int? Compare(string left, string right) =>
        Parse(left) is { } a && Parse(right) is { } b ? Math.Sign(a.CompareTo(b)) : null;

    [GeneratedRegex("""
        ^\s*v?
        (?:(?<epoch>[0-9]+)!)?
        (?<release>[0-9]+(?:\.[0-9]+)*)
        (?:[-_.]?(?<prel>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?<pren>[0-9]+)?)?
        (?:-(?<postn1>[0-9]+)|[-_.]?(?<postl>post|rev|r)[-_.]?(?<postn2>[0-9]+)?)?
        (?:[-_.]?(?<devl>dev)[-_.]?(?<devn>[0-9]+)?)?
        (?:\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
        \s*$
        """, RegexOptions.IgnoreCase | RegexOptions.IgnorePatternWhitespace | RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    private sealed record Parsed(BigInteger Epoch, BigInteger[] Release, int PreRank, BigInteger Pre, bool HasPost, BigInteger Post,
        bool HasDev, BigInteger Dev, string[]? Local) : IComparable<Parsed>
    {
        /// <summary>Pre-release rank: a 0, b 1, rc 2; "none" sorts after them, "dev only" before.</summary>
        public const int NoPre = 3;
        public const int DevOnly = -1;

        public int CompareTo(Parsed? other)
        {
            ArgumentNullException.ThrowIfNull(other);
            var c = Epoch.CompareTo(other.Epoch);
            if (c != 0)
            {
                return c;
            }
            c = CompareRelease(Release, other.Release);
            if (c != 0)
            {
                return c;
            }
            c = PreRank.CompareTo(other.PreRank);
            if (c != 0)
            {
                return c;
            }
            if (PreRank is >= 0 and < NoPre && (c = Pre.CompareTo(other.Pre)) != 0)
            {
                return c;
            }
            c = HasPost.CompareTo(other.HasPost);
            if (c != 0)
            {
                return c;
            }
            if (HasPost && (c = Post.CompareTo(other.Post)) != 0)
            {
                return c;
            }
            // A dev release comes before the same version without one.
            c = other.HasDev.CompareTo(HasDev);
            if (c != 0)
            {
                return c;
            }
            if (HasDev && (c = Dev.CompareTo(other.Dev)) != 0)
            {
                return c;
            }
            return CompareLocal(Local, other.Local);
        }

        private static int CompareRelease(BigInteger[] a, BigInteger[] b)
        {
            for (var i = 0; i < Math.Max(a.Length, b.Length); i++)
            {
                var c = (i < a.Length ? a[i] : BigInteger.Zero).CompareTo(i < b.Length ? b[i] : BigInteger.Zero);
                if (c != 0)
                {
                    return c;
                }
            }
            return 0;
        }

        private static int CompareLocal(string[]? a, string[]? b)
        {
            if (a is null || b is null)
            {
                return (a is not null).CompareTo(b is not null);
            }
            for (var i = 0; i < Math.Min(a.Length, b.Length); i++)
            {
                var aNumeric = BigInteger.TryParse(a[i], NumberStyles.None, CultureInfo.InvariantCulture, out var x);
                var bNumeric = BigInteger.TryParse(b[i], NumberStyles.None, CultureInfo.InvariantCulture, out var y);
                var c = aNumeric && bNumeric ? x.CompareTo(y)
                    : aNumeric != bNumeric ? aNumeric.CompareTo(bNumeric)
                    : string.CompareOrdinal(a[i], b[i]);
                if (c != 0)
                {
                    return c;
                }
            }
            return a.Length.CompareTo(b.Length);
        }
    }

    private static Parsed? Parse(string version)
    {
        var match = Pattern().Match(version);
        if (!match.Success)
        {
            return null;
        }
        static BigInteger Number(Group group) =>
            group.Success ? BigInteger.Parse(group.Value, NumberStyles.None, CultureInfo.InvariantCulture) : BigInteger.Zero;

        var release = match.Groups["release"].Value.Split('.').Select(p => BigInteger.Parse(p, NumberStyles.None, CultureInfo.InvariantCulture)).ToArray();
        var hasPre = match.Groups["prel"].Success;
        var hasPost = match.Groups["postn1"].Success || match.Groups["postl"].Success;
        var hasDev = match.Groups["devl"].Success;
        var preRank = hasPre
            ? match.Groups["prel"].Value.ToLowerInvariant() switch
            {
                "a" or "alpha" => 0,
                "b" or "beta" => 1,
                _ => 2,
            }
            : !hasPost && hasDev ? Parsed.DevOnly : Parsed.NoPre;
        var post = match.Groups["postn1"].Success ? Number(match.Groups["postn1"]) : Number(match.Groups["postn2"]);
        var local = match.Groups["local"].Success
            ? match.Groups["local"].Value.ToLowerInvariant().Split('.', '-', '_')
            : null;
        return new Parsed(Number(match.Groups["epoch"]), release, preRank, Number(match.Groups["pren"]), hasPost, post, hasDev, Number(match.Groups["devn"]), local);
    }
}
