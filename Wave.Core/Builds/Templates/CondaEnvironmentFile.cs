using System.Text;

namespace Wave.Core.Builds.Templates;

/// <summary>Writes the <c>conda.yml</c> of a build from package specs and channels.</summary>
public static class CondaEnvironmentFile
{
    /// <summary>
    /// <c>channels:</c> then <c>dependencies:</c>, one block item per line, in the order given. Values that YAML could
    /// read as something else are single-quoted.
    /// </summary>
    public static string FromPackages(IReadOnlyList<string> specs, IReadOnlyList<string> channels)
    {
        var text = new StringBuilder();
        if (channels.Count > 0)
        {
            text.Append("channels:\n");
            foreach (var channel in channels)
            {
                text.Append("- ").Append(YamlScalar(channel)).Append('\n');
            }
        }
        text.Append("dependencies:\n");
        foreach (var spec in specs)
        {
            text.Append("- ").Append(YamlScalar(spec)).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>
    /// A client's environment file, with <paramref name="channels"/> added as a top-level <c>channels:</c> block when
    /// the file has none (a file's own channels win: it was written for them).
    /// </summary>
    public static string FromEnvironment(string environment, IReadOnlyList<string> channels)
    {
        var text = environment.EndsWith('\n') ? environment : environment + "\n";
        var hasChannels = text.Split('\n').Any(line => line.TrimEnd('\r').StartsWith("channels:", StringComparison.Ordinal));
        if (channels.Count == 0 || hasChannels)
        {
            return text;
        }
        var block = new StringBuilder("channels:\n");
        foreach (var channel in channels)
        {
            block.Append("- ").Append(YamlScalar(channel)).Append('\n');
        }
        return block + text;
    }

    // Plain when it starts alphanumeric and holds no space, quote or '#' and does not end with ':' (a ':' followed by
    // a non-space, as in "bioconda::salmon", stays part of a plain scalar); otherwise single-quoted.
    private static string YamlScalar(string value)
    {
        var plain = value.Length > 0
            && char.IsAsciiLetterOrDigit(value[0])
            && !value.EndsWith(':')
            && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or '=' or '<' or '>' or '!' or '*' or ',' or '/' or '+' or '~' or '@' or ':');
        return plain ? value : "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";
    }
}
