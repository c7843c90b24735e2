namespace Wave.Core.Builds;

/// <summary>
/// Reads the package specs of a Conda environment file for naming images. Not a YAML parser: it reads the block list
/// under a top-level <c>dependencies:</c> key (<c>- spec</c> items; a nested <c>- pip:</c> list is skipped), which is
/// how environment files are written. Anything it cannot read simply contributes no names.
/// </summary>
public static class CondaEnvironmentDependencies
{
    public static IReadOnlyList<string> Read(string environmentYaml)
    {
        var specs = new List<string>();
        var inDependencies = false;
        int? itemIndent = null;
        foreach (var rawLine in environmentYaml.Split('\n'))
        {
            var line = StripComment(rawLine.TrimEnd('\r'));
            if (line.Trim().Length == 0)
            {
                continue;
            }
            var indent = line.Length - line.TrimStart().Length;
            var content = line.Trim();
            if (indent == 0 && !content.StartsWith('-'))
            {
                inDependencies = content == "dependencies:";
                itemIndent = null;
                continue;
            }
            if (!inDependencies || !content.StartsWith('-'))
            {
                continue;
            }
            itemIndent ??= indent;
            if (indent != itemIndent)
            {
                continue;
            }
            var item = Unquote(content[1..].Trim());
            // A mapping item such as "pip:" opens a nested list of non-Conda packages.
            if (item.Length > 0 && !item.EndsWith(':'))
            {
                specs.Add(item);
            }
        }
        return specs;
    }

    private static string StripComment(string line)
    {
        var hash = line.IndexOf(" #", StringComparison.Ordinal);
        return line.TrimStart().StartsWith('#') ? "" : hash >= 0 ? line[..hash] : line;
    }

    private static string Unquote(string value) =>
        value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[^1] == value[0] ? value[1..^1] : value;
}
