namespace Wave.Core.Scans.Versions;

/// <summary>
/// dpkg's version ordering (Debian Policy 5.6.12): <c>[epoch:]upstream[-revision]</c>. The epoch compares as a number;
/// upstream and revision each compare by alternating runs: a run of non-digits character by character, where
/// <c>~</c> sorts before everything (even the end of the string), then the end, then letters, then every other
/// character; then a run of digits as a number. The revision is what follows the last hyphen (none: "0").
/// </summary>
public sealed class DebianVersion : IVersionOrdering
{
    public static readonly DebianVersion Ordering = new();

    public bool IsValid(string version) => Parse(version) is not null;

    public int? Compare(string left, string right)
    {
        if (Parse(left) is not { } a || Parse(right) is not { } b)
        {
            return null;
        }
        var epoch = a.Epoch.CompareTo(b.Epoch);
        if (epoch != 0)
        {
            return epoch;
        }
        var upstream = CompareFragment(a.Upstream, b.Upstream);
        return upstream != 0 ? upstream : CompareFragment(a.Revision, b.Revision);
    }

    private sealed record Parts(long Epoch, string Upstream, string Revision);

    private static Parts? Parse(string version)
    {
        var text = version.Trim();
        if (text.Length == 0)
        {
            return null;
        }
        long epoch = 0;
        var colon = text.IndexOf(':');
        if (colon >= 0)
        {
            if (colon == 0 || !long.TryParse(text.AsSpan(0, colon), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out epoch))
            {
                return null;
            }
            text = text[(colon + 1)..];
        }
        var hyphen = text.LastIndexOf('-');
        var upstream = hyphen >= 0 ? text[..hyphen] : text;
        var revision = hyphen >= 0 ? text[(hyphen + 1)..] : "";
        if (upstream.Length == 0 || (hyphen >= 0 && revision.Length == 0))
        {
            return null;
        }
        foreach (var c in upstream)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '+' or '-' or '~' or ':'))
            {
                return null;
            }
        }
        foreach (var c in revision)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '+' or '~'))
            {
                return null;
            }
        }
        return new Parts(epoch, upstream, revision);
    }

    /// <summary>The weight of one character in a non-digit run; 0 for the end of the string (and for digits, which end the run).</summary>
    private static int Order(string text, int index)
    {
        if (index >= text.Length)
        {
            return 0;
        }
        var c = text[index];
        return char.IsAsciiDigit(c) ? 0 : char.IsAsciiLetter(c) ? c : c == '~' ? -1 : c + 256;
    }

    private static int CompareFragment(string a, string b)
    {
        int i = 0, j = 0;
        while (i < a.Length || j < b.Length)
        {
            while ((i < a.Length && !char.IsAsciiDigit(a[i])) || (j < b.Length && !char.IsAsciiDigit(b[j])))
            {
                var difference = Order(a, i) - Order(b, j);
                if (difference != 0)
                {
                    return Math.Sign(difference);
                }
                i++;
                j++;
            }
            while (i < a.Length && a[i] == '0')
            {
                i++;
            }
            while (j < b.Length && b[j] == '0')
            {
                j++;
            }
            var firstDifference = 0;
            while (i < a.Length && j < b.Length && char.IsAsciiDigit(a[i]) && char.IsAsciiDigit(b[j]))
            {
                if (firstDifference == 0)
                {
                    firstDifference = a[i] - b[j];
                }
                i++;
                j++;
            }
            if (i < a.Length && char.IsAsciiDigit(a[i]))
            {
                return 1;
            }
            if (j < b.Length && char.IsAsciiDigit(b[j]))
            {
                return -1;
            }
            if (firstDifference != 0)
            {
                return Math.Sign(firstDifference);
            }
        }
        return 0;
    }
}
