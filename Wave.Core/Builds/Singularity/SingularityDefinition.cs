using Wave.Core.Names;

namespace Wave.Core.Builds.Singularity;

/// <summary>One <c>%files</c> line: a path in the build context and where it goes in the image.</summary>
public sealed record SingularityFileCopy(string Source, string Destination);

/// <summary>
/// The subset of a Singularity definition file this service builds: the header <c>Bootstrap: docker</c> and
/// <c>From:</c>, and the sections <c>%files</c>, <c>%post</c>, <c>%environment</c>, <c>%runscript</c> and
/// <c>%labels</c>. A section given twice is concatenated, as Singularity does. Anything else is refused with an
/// <see cref="InvalidBuildRequestException"/> on the <c>containerFile</c> field that names the header keyword or section.
/// </summary>
public sealed record SingularityDefinition
{
    public const string Field = "containerFile";

    /// <summary>The image the build starts from (<c>From:</c>).</summary>
    public required string From { get; init; }

    public IReadOnlyList<SingularityFileCopy> Files { get; init; } = [];

    /// <summary>The <c>%post</c> script, or null.</summary>
    public string? Post { get; init; }

    /// <summary>The <c>%environment</c> shell code, or null.</summary>
    public string? Environment { get; init; }

    /// <summary>The <c>%runscript</c> body, or null.</summary>
    public string? Runscript { get; init; }

    /// <summary>The <c>%labels</c>, in the order written (a later duplicate key replaces the earlier value).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Labels { get; init; } = [];

    private static readonly string[] SupportedSections = ["files", "post", "environment", "runscript", "labels"];

    private const string SupportedText = "%files, %post, %environment, %runscript and %labels";

    /// <exception cref="InvalidBuildRequestException">The text is not a definition file this service can build.</exception>
    public static SingularityDefinition Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        string? bootstrap = null, from = null;
        var sections = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        List<string>? current = null;
        for (var number = 1; number <= lines.Length; number++)
        {
            var line = lines[number - 1];
            if (line.StartsWith('%'))
            {
                var (name, options) = SectionHeader(line);
                if (!SupportedSections.Contains(name))
                {
                    throw Invalid($"section %{name} (line {number}) is not supported; this service builds {SupportedText}");
                }
                if (options.Length > 0)
                {
                    throw Invalid($"section %{name} (line {number}): options ('{options}') are not supported");
                }
                if (!sections.TryGetValue(name, out current))
                {
                    sections[name] = current = [];
                }
                continue;
            }
            if (current is not null)
            {
                current.Add(line);
                continue;
            }
            var trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith('#'))
            {
                continue;
            }
            var colon = trimmed.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw Invalid($"header line {number} is not 'Keyword: value'");
            }
            var keyword = trimmed[..colon].Trim();
            var value = trimmed[(colon + 1)..].Trim();
            switch (keyword.ToLowerInvariant())
            {
                case "bootstrap":
                    bootstrap = value;
                    break;
                case "from":
                    from = value;
                    break;
                default:
                    throw Invalid($"header keyword '{keyword}' (line {number}) is not supported; only Bootstrap and From are");
            }
        }

        if (bootstrap is null)
        {
            throw Invalid("has no 'Bootstrap:' header; this service builds 'Bootstrap: docker' definitions");
        }
        if (!bootstrap.Equals("docker", StringComparison.OrdinalIgnoreCase))
        {
            throw Invalid($"header Bootstrap '{bootstrap}' is not supported; only 'docker' is");
        }
        if (string.IsNullOrEmpty(from))
        {
            throw Invalid("has no 'From:' header naming the image to start from");
        }
        if (!ImageReference.TryParse(from, out _, out var error))
        {
            throw Invalid($"header From '{from}' is not a valid image name: {error}");
        }

        return new SingularityDefinition
        {
            From = from,
            Files = sections.TryGetValue("files", out var files) ? ParseFiles(files) : [],
            Post = Script(sections, "post"),
            Environment = Script(sections, "environment"),
            Runscript = Script(sections, "runscript"),
            Labels = sections.TryGetValue("labels", out var labels) ? ParseLabels(labels) : [],
        };
    }

    private static (string Name, string Options) SectionHeader(string line)
    {
        var rest = line[1..];
        var end = 0;
        while (end < rest.Length && (char.IsAsciiLetterOrDigit(rest[end]) || rest[end] is '_' or '-'))
        {
            end++;
        }
        return (rest[..end].ToLowerInvariant(), rest[end..].Trim());
    }

    /// <summary>A script section without its leading and trailing blank lines, or null when it is empty.</summary>
    private static string? Script(Dictionary<string, List<string>> sections, string name)
    {
        if (!sections.TryGetValue(name, out var lines))
        {
            return null;
        }
        var first = lines.FindIndex(l => l.Trim().Length > 0);
        if (first < 0)
        {
            return null;
        }
        var last = lines.FindLastIndex(l => l.Trim().Length > 0);
        return string.Join('\n', lines.Skip(first).Take(last - first + 1));
    }

    private static List<SingularityFileCopy> ParseFiles(List<string> lines)
    {
        var copies = new List<SingularityFileCopy>();
        foreach (var line in lines.Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')))
        {
            var words = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (words.Length > 2)
            {
                throw Invalid($"section %files: the line '{line}' has more than a source and a destination");
            }
            var destination = words.Length == 2 ? words[1] : words[0];
            copies.Add(new SingularityFileCopy(words[0], destination.StartsWith('/') ? destination : "/" + destination));
        }
        return copies;
    }

    private static List<KeyValuePair<string, string>> ParseLabels(List<string> lines)
    {
        var labels = new List<KeyValuePair<string, string>>();
        foreach (var line in lines.Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')))
        {
            var space = line.IndexOfAny([' ', '\t']);
            var key = space < 0 ? line : line[..space];
            var value = space < 0 ? "" : line[(space + 1)..].Trim();
            labels.RemoveAll(l => l.Key == key);
            labels.Add(new KeyValuePair<string, string>(key, value));
        }
        return labels;
    }

    private static InvalidBuildRequestException Invalid(string problem) => RecipeText.Invalid(Field, problem);
}
