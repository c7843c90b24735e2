using System.Text;

using Wave.Core.Names;

namespace Wave.Core.Builds;

/// <summary>The name a build is pushed under: repository (maybe with a suffix) and tag.</summary>
public sealed record ImageName(string Repository, string Tag)
{
    public override string ToString() => $"{Repository}:{Tag}";
}

/// <summary>
/// Names built images after their packages so that people can read them, always ending in the container id so that
/// they stay unique. The exact rules are in docs/build-naming.md; the tests pin them.
/// </summary>
public static class ImageNaming
{
    public const int MaxTagLength = 80;
    public const int MaxNames = 5;
    public const string PrunedMarker = "pruned";
    private const string IdSeparator = "--";

    public static ImageName Name(string repository, string containerId, NameStrategy strategy, IReadOnlyList<CondaPackage> packages)
    {
        return strategy switch
        {
            NameStrategy.None => new ImageName(repository, containerId),
            NameStrategy.TagPrefix => new ImageName(repository, WithId(TagPrefix(packages), containerId)),
            NameStrategy.ImageSuffix => ImageSuffix(repository, containerId, packages),
            _ => throw new ArgumentOutOfRangeException(nameof(strategy)),
        };
    }

    /// <summary><c>salmon-1.10.3_bwa-0.7.17</c>: at most <see cref="MaxNames"/> parts, tag characters only, short enough to leave room for the id.</summary>
    public static string TagPrefix(IReadOnlyList<CondaPackage> packages)
    {
        var parts = packages
            .Select(p => KeepOnly(p.Version is null ? p.Name : $"{p.Name}-{p.Version}", IsTagChar))
            .Where(part => part.Length > 0)
            .Distinct(StringComparer.Ordinal)
            .ToList();
        var prefix = string.Join('_', LimitCount(parts));
        return TrimSeparators(Cut(prefix, MaxTagLength - IdSeparator.Length - ContainerId.Length));
    }

    private static ImageName ImageSuffix(string repository, string containerId, IReadOnlyList<CondaPackage> packages)
    {
        var names = packages
            .Select(p => KeepOnly(p.Name.ToLowerInvariant(), IsRepositoryChar))
            .Select(CollapseSeparators)
            .Where(name => name.Length > 0)
            .Distinct(StringComparer.Ordinal)
            .ToList();
        var room = ImageReference.NameTotalLengthMax - repository.Length - 1;
        var suffix = CollapseSeparators(Cut(string.Join('_', LimitCount(names)), room));
        var version = packages.Count == 1 && packages[0].Version is { } v
            ? TrimSeparators(Cut(KeepOnly(v, IsTagChar), MaxTagLength - IdSeparator.Length - ContainerId.Length))
            : "";
        var tag = WithId(version, containerId);
        var suffixed = $"{repository}/{suffix}";
        // The rules above should only ever make valid names; if one slips through, a plain name beats a broken one.
        return suffix.Length > 0 && ImageReference.TryParse($"{suffixed}:{tag}", out _, out _)
            ? new ImageName(suffixed, tag)
            : new ImageName(repository, tag);
    }

    private static string WithId(string prefix, string containerId) =>
        prefix.Length == 0 ? containerId : prefix + IdSeparator + containerId;

    private static IEnumerable<string> LimitCount(List<string> parts) =>
        parts.Count <= MaxNames ? parts : parts.Take(MaxNames - 1).Append(PrunedMarker);

    private static string Cut(string value, int maxLength) => value.Length <= maxLength ? value : value[..maxLength];

    private static string KeepOnly(string value, Func<char, bool> allowed)
    {
        var result = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            if (allowed(c))
            {
                result.Append(c);
            }
        }
        return result.ToString();
    }

    // A tag must start with a letter, digit or '_'; leading '.'/'-' and trailing separators only look broken.
    private static string TrimSeparators(string value) => value.TrimStart('.', '-').TrimEnd('.', '-', '_');

    /// <summary>
    /// Repository components allow single '.', '_' or '__' or runs of '-' between alphanumerics: any other run of
    /// separators becomes one '_', and separators at either end are dropped.
    /// </summary>
    private static string CollapseSeparators(string value)
    {
        var result = new StringBuilder(value.Length);
        var i = 0;
        while (i < value.Length)
        {
            if (!IsSeparator(value[i]))
            {
                result.Append(value[i++]);
                continue;
            }
            var start = i;
            while (i < value.Length && IsSeparator(value[i]))
            {
                i++;
            }
            var run = value[start..i];
            result.Append(run.Length == 1 || run.All(c => c == '-') ? run : "_");
        }
        return result.ToString().Trim('.', '_', '-');
    }

    private static bool IsSeparator(char c) => c is '.' or '_' or '-';

    private static bool IsTagChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-';

    private static bool IsRepositoryChar(char c) => char.IsAsciiDigit(c) || char.IsAsciiLetterLower(c) || c is '_' or '.' or '-';
}
