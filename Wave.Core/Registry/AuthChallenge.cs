namespace Wave.Core.Registry;

/// <summary>
/// One challenge of a <c>WWW-Authenticate</c> header (RFC 7235): a scheme and its parameters, e.g.
/// <c>Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"</c>.
/// </summary>
internal sealed record AuthChallenge(string Scheme, IReadOnlyDictionary<string, string> Parameters)
{
    public string? this[string name] => Parameters.TryGetValue(name, out var value) ? value : null;

    public bool IsBasic => Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase);

    public bool IsBearer => Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// All challenges in the header values. A header may carry several challenges separated by commas, and quoted
    /// values may themselves contain commas, so the header is tokenised rather than split.
    /// </summary>
    public static IReadOnlyList<AuthChallenge> Parse(IEnumerable<string> headerValues)
    {
        var challenges = new List<AuthChallenge>();
        foreach (var header in headerValues)
        {
            ParseInto(header, challenges);
        }
        return challenges;
    }

    private static void ParseInto(string text, List<AuthChallenge> challenges)
    {
        var position = 0;
        while (true)
        {
            SkipSeparators(text, ref position);
            var scheme = ReadToken(text, ref position);
            if (scheme.Length == 0)
            {
                return;
            }
            var parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            while (true)
            {
                SkipWhitespace(text, ref position);
                var start = position;
                if (parameters.Count == 0 && IsToken68(text, start))
                {
                    SkipToken68(text, ref position); // "Negotiate abc==": an opaque credential, not parameters
                    break;
                }
                var name = ReadToken(text, ref position);
                SkipWhitespace(text, ref position);
                if (name.Length == 0 || position >= text.Length || text[position] != '=')
                {
                    // Not "name=value": the next challenge's scheme starts here.
                    position = start;
                    break;
                }
                position++; // '='
                SkipWhitespace(text, ref position);
                parameters[name] = position < text.Length && text[position] == '"'
                    ? ReadQuoted(text, ref position)
                    : ReadToken(text, ref position);
                SkipWhitespace(text, ref position);
                if (position < text.Length && text[position] == ',')
                {
                    position++;
                }
            }
            challenges.Add(new AuthChallenge(scheme, parameters));
        }
    }

    // A token68 is one opaque value ending in optional '=' padding, followed by the end or a comma.
    private static bool IsToken68(string text, int position)
    {
        var probe = position;
        if (ReadToken(text, ref probe).Length == 0)
        {
            return false;
        }
        while (probe < text.Length && text[probe] == '=')
        {
            probe++;
        }
        SkipWhitespace(text, ref probe);
        return probe >= text.Length || text[probe] == ',';
    }

    private static void SkipToken68(string text, ref int position)
    {
        _ = ReadToken(text, ref position);
        while (position < text.Length && text[position] == '=')
        {
            position++;
        }
    }

    private static void SkipSeparators(string text, ref int position)
    {
        while (position < text.Length && (char.IsWhiteSpace(text[position]) || text[position] == ','))
        {
            position++;
        }
    }

    private static void SkipWhitespace(string text, ref int position)
    {
        while (position < text.Length && char.IsWhiteSpace(text[position]))
        {
            position++;
        }
    }

    private static string ReadToken(string text, ref int position)
    {
        var start = position;
        while (position < text.Length && !char.IsWhiteSpace(text[position]) && text[position] is not (',' or '=' or '"'))
        {
            position++;
        }
        return text[start..position];
    }

    private static string ReadQuoted(string text, ref int position)
    {
        position++; // opening quote
        var value = new System.Text.StringBuilder();
        while (position < text.Length && text[position] != '"')
        {
            if (text[position] == '\\' && position + 1 < text.Length)
            {
                position++;
            }
            value.Append(text[position]);
            position++;
        }
        position++; // closing quote (or end of text)
        return value.ToString();
    }
}
