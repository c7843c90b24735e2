using System.Globalization;
using System.Numerics;

namespace Wave.Core.Scans.Versions;

/// <summary>
/// conda's version ordering (its VersionOrder). A version is <c>[epoch!]version[+local]</c>, case-insensitive; the
/// version and the local part are split into components at <c>.</c> and <c>_</c> (a <c>-</c> counts as <c>_</c> when
/// the string has no <c>_</c>), each component into runs of digits and non-digits, and a component that starts with a
/// letter gets a 0 in front (so 1.1.a1 = 1.1.0a1). Runs compare pairwise, a missing run counting as 0 (1.1 = 1.1.0):
/// numbers as numbers, text as text, text before numbers, except <c>dev</c>, which sorts before any other text, and
/// <c>post</c>, which sorts after any number. The local part counts only when the versions are otherwise equal.
/// </summary>
public sealed class CondaVersion : IVersionOrdering
{
    public static readonly CondaVersion Ordering = new();

    /// <summary>One run: a number, a text (lower case; "dev" is kept as "DEV" so that it sorts first), or post (above every number).</summary>
    private readonly record struct Run(BigInteger? Number, string? Text, bool Post)
    {
        public static readonly Run Zero = new(BigInteger.Zero, null, false);

        public bool IsText => Text is not null;

        public int CompareTo(Run other)
        {
            if (IsText || other.IsText)
            {
                // text sorts before numbers (and before post)
                return IsText && other.IsText ? Math.Sign(string.CompareOrdinal(Text, other.Text)) : IsText ? -1 : 1;
            }
            if (Post || other.Post)
            {
                return Post.CompareTo(other.Post);
            }
            return Number!.Value.CompareTo(other.Number!.Value);
        }
    }

    private sealed record Parsed(List<List<Run>> Version, List<List<Run>> Local);

    public bool IsValid(string version) => Parse(version) is not null;

    public int? Compare(string left, string right)
    {
        if (Parse(left) is not { } a || Parse(right) is not { } b)
        {
            return null;
        }
        var c = CompareParts(a.Version, b.Version);
        return c != 0 ? c : CompareParts(a.Local, b.Local);
    }

    private static int CompareParts(List<List<Run>> a, List<List<Run>> b)
    {
        for (var i = 0; i < Math.Max(a.Count, b.Count); i++)
        {
            var x = i < a.Count ? a[i] : [];
            var y = i < b.Count ? b[i] : [];
            for (var j = 0; j < Math.Max(x.Count, y.Count); j++)
            {
                var c = (j < x.Count ? x[j] : Run.Zero).CompareTo(j < y.Count ? y[j] : Run.Zero);
                if (c != 0)
                {
                    return c;
                }
            }
        }
        return 0;
    }

    private static Parsed? Parse(string text)
    {
        var version = text.Trim().ToLowerInvariant();
        if (version.Length == 0)
        {
            return null;
        }
        if (!IsAllowed(version) && version.Contains('-') && !version.Contains('_'))
        {
            version = version.Replace('-', '_');
        }
        if (!IsAllowed(version))
        {
            return null;
        }
        var epochSplit = version.Split('!');
        if (epochSplit.Length > 2 || (epochSplit.Length == 2 && !epochSplit[0].All(char.IsAsciiDigit)) || epochSplit[0].Length == 0)
        {
            return null;
        }
        var epoch = epochSplit.Length == 2 ? epochSplit[0] : "0";
        var localSplit = epochSplit[^1].Split('+');
        if (localSplit.Length > 2)
        {
            return null;
        }
        var main = Components([epoch, .. localSplit[0].Replace('_', '.').Split('.')]);
        var local = localSplit.Length == 2 ? Components(localSplit[1].Replace('_', '.').Split('.')) : [];
        return main is null || local is null ? null : new Parsed(main, local);
    }

    /// <summary>Runs are maximal sequences of digits, of '*', or of anything else.</summary>
    private static int RunKind(char c) => char.IsAsciiDigit(c) ? 0 : c == '*' ? 1 : 2;

    private static bool IsAllowed(string version) =>
        version.All(c => char.IsAsciiDigit(c) || char.IsAsciiLetterLower(c) || c is '*' or '.' or '+' or '!' or '_');

    private static List<List<Run>>? Components(IEnumerable<string> components)
    {
        var result = new List<List<Run>>();
        foreach (var component in components)
        {
            if (component.Length == 0)
            {
                return null;
            }
            var runs = new List<Run>();
            if (!char.IsAsciiDigit(component[0]))
            {
                runs.Add(Run.Zero);
            }
            var i = 0;
            while (i < component.Length)
            {
                var start = i;
                var kind = RunKind(component[i]);
                while (i < component.Length && RunKind(component[i]) == kind)
                {
                    i++;
                }
                var digits = kind == 0;
                var run = component[start..i];
                runs.Add(digits ? new Run(BigInteger.Parse(run, NumberStyles.None, CultureInfo.InvariantCulture), null, false)
                    : run == "post" ? new Run(null, null, true)
                    : run == "dev" ? new Run(null, "DEV", false)
                    : new Run(null, run, false));
            }
            result.Add(runs);
        }
        return result;
    }
}
