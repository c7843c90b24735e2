namespace Wave.Core.Scans.Versions;

/// <summary>
/// apk's version ordering: <c>digits{.digits}[letter]{_suffix[digits]}[~hash][-rN]</c>. Versions are read as a
/// sequence of tokens and compared token by token: numbers as numbers (a component after a dot that starts with 0 on
/// either side compares as text, so 1.01 &lt; 1.1), the letter as a character, suffixes by their rank
/// (<c>alpha &lt; beta &lt; pre &lt; rc &lt;</c> no suffix <c>&lt; cvs &lt; svn &lt; git &lt; hg &lt; p</c>), the hash as text,
/// the revision as a number. Where the two token sequences first differ in kind, a pre-release suffix loses; otherwise
/// the version whose next token comes later in that list (digit, letter, suffix, suffix number, hash, revision, end)
/// is the smaller, which makes 1.0 &lt; 1.0.1, 1.0 &lt; 1.0-r1 and 1.0a &lt; 1.0.1.
/// </summary>
public sealed class AlpineVersion : IVersionOrdering
{
    public static readonly AlpineVersion Ordering = new();

    private static readonly string[] PreReleaseSuffixes = ["alpha", "beta", "pre", "rc"];
    private static readonly string[] PostReleaseSuffixes = ["cvs", "svn", "git", "hg", "p"];

    private enum Kind
    {
        Digit = 1,
        Letter = 2,
        Suffix = 3,
        SuffixNumber = 4,
        Hash = 5,
        Revision = 6,
        End = 7,
    }

    /// <param name="Rank">For a suffix: negative for a pre-release, 0 and up for a post-release.</param>
    private readonly record struct Token(Kind Kind, string Text, int Rank, bool Initial);

    public bool IsValid(string version) => Tokenize(version) is not null;

    public int? Compare(string left, string right)
    {
        if (Tokenize(left) is not { } a || Tokenize(right) is not { } b)
        {
            return null;
        }
        for (var k = 0; ; k++)
        {
            var x = k < a.Count ? a[k] : new Token(Kind.End, "", 0, false);
            var y = k < b.Count ? b[k] : new Token(Kind.End, "", 0, false);
            if (x.Kind == Kind.End && y.Kind == Kind.End)
            {
                return 0;
            }
            if (x.Kind == y.Kind)
            {
                var value = CompareValues(x, y);
                if (value != 0)
                {
                    return value;
                }
                continue;
            }
            if (x.Kind == Kind.Suffix && x.Rank < 0)
            {
                return -1;
            }
            if (y.Kind == Kind.Suffix && y.Rank < 0)
            {
                return 1;
            }
            return x.Kind > y.Kind ? -1 : 1;
        }
    }

    private static int CompareValues(Token x, Token y) => x.Kind switch
    {
        Kind.Digit when !x.Initial && (x.Text[0] == '0' || y.Text[0] == '0') => Math.Sign(string.CompareOrdinal(x.Text, y.Text)),
        Kind.Digit or Kind.SuffixNumber or Kind.Revision => CompareNumbers(x.Text, y.Text),
        Kind.Letter => x.Text[0].CompareTo(y.Text[0]),
        Kind.Suffix => x.Rank.CompareTo(y.Rank),
        Kind.Hash => Math.Sign(string.CompareOrdinal(x.Text, y.Text)),
        _ => 0,
    };

    /// <summary>Digit strings of any length, compared as numbers.</summary>
    private static int CompareNumbers(string a, string b)
    {
        a = a.TrimStart('0');
        b = b.TrimStart('0');
        return a.Length != b.Length ? a.Length.CompareTo(b.Length) : Math.Sign(string.CompareOrdinal(a, b));
    }

    private static List<Token>? Tokenize(string version)
    {
        var text = version.Trim();
        var tokens = new List<Token>();
        var i = 0;
        var digits = Digits(text, ref i);
        if (digits is null)
        {
            return null;
        }
        tokens.Add(new Token(Kind.Digit, digits, 0, true));
        var last = Kind.Digit;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '.' && last == Kind.Digit)
            {
                i++;
                digits = Digits(text, ref i);
                if (digits is null)
                {
                    return null;
                }
                tokens.Add(new Token(Kind.Digit, digits, 0, false));
            }
            else if (char.IsAsciiLetterLower(c) && last == Kind.Digit)
            {
                tokens.Add(new Token(Kind.Letter, c.ToString(), 0, false));
                i++;
                last = Kind.Letter;
                continue;
            }
            else if (c == '_' && last is Kind.Digit or Kind.Letter or Kind.Suffix or Kind.SuffixNumber)
            {
                var start = ++i;
                while (i < text.Length && char.IsAsciiLetterLower(text[i]))
                {
                    i++;
                }
                var name = text[start..i];
                var pre = Array.IndexOf(PreReleaseSuffixes, name);
                var post = Array.IndexOf(PostReleaseSuffixes, name);
                if (pre < 0 && post < 0)
                {
                    return null;
                }
                tokens.Add(new Token(Kind.Suffix, name, pre >= 0 ? pre - PreReleaseSuffixes.Length : post, false));
                last = Kind.Suffix;
                if (i < text.Length && char.IsAsciiDigit(text[i]))
                {
                    tokens.Add(new Token(Kind.SuffixNumber, Digits(text, ref i)!, 0, false));
                    last = Kind.SuffixNumber;
                }
                continue;
            }
            else if (c == '~' && last is not (Kind.Hash or Kind.Revision))
            {
                var start = ++i;
                while (i < text.Length && char.IsAsciiHexDigitLower(text[i]))
                {
                    i++;
                }
                if (i == start)
                {
                    return null;
                }
                tokens.Add(new Token(Kind.Hash, text[start..i], 0, false));
                last = Kind.Hash;
                continue;
            }
            else if (c == '-' && i + 1 < text.Length && text[i + 1] == 'r' && last != Kind.Revision)
            {
                i += 2;
                digits = Digits(text, ref i);
                if (digits is null || i != text.Length)
                {
                    return null;
                }
                tokens.Add(new Token(Kind.Revision, digits, 0, false));
                last = Kind.Revision;
                continue;
            }
            else
            {
                return null;
            }
            last = Kind.Digit;
        }
        return tokens;
    }

    private static string? Digits(string text, ref int i)
    {
        var start = i;
        while (i < text.Length && char.IsAsciiDigit(text[i]))
        {
            i++;
        }
        return i > start ? text[start..i] : null;
    }
}
