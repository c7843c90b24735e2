using System.Diagnostics.CodeAnalysis;

namespace Wave.Core.Names;

/// <summary>
/// A container image name, normalised the way Docker normalises it:
/// <c>ubuntu</c> is <c>docker.io/library/ubuntu:latest</c>.
/// </summary>
/// <remarks>
/// Grammar (distribution/reference): <c>[host[:port]/]component(/component)*[:tag][@algorithm:hex]</c>.
/// The first component is a registry host only when it contains '.' or ':' or is <c>localhost</c>; otherwise the
/// name is on Docker Hub. (Newer Docker also takes an upper-case first component as a host; we reject it as an
/// upper-case repository instead, because <c>MyUser/image</c> is far more often a typo than a dot-less host.)
/// </remarks>
public sealed record ImageReference(string Registry, string Repository, string? Tag, string? Digest)
{
    public const string DockerHub = "docker.io";

    /// <summary>distribution's limit on <c>registry/repository</c>, checked on the normalised name as Docker does.</summary>
    public const int NameTotalLengthMax = 255;

    public const int TagLengthMax = 128;

    /// <summary>The reference a registry is asked for: the digest when pinned, otherwise the tag.</summary>
    public string Reference => Digest ?? Tag ?? "latest";

    /// <summary><c>registry/repository</c>, without tag or digest.</summary>
    public string Name => $"{Registry}/{Repository}";

    public static ImageReference Parse(string name) =>
        TryParse(name, out var reference, out var error) ? reference : throw new InvalidImageReferenceException(name, error);

    public static bool TryParse(string? name, [NotNullWhen(true)] out ImageReference? reference, [NotNullWhen(false)] out string? error)
    {
        reference = null;
        error = ReferenceGrammar.Check(name, out var parsed);
        if (error is not null)
        {
            return false;
        }
        reference = parsed!;
        return true;
    }

    /// <summary>Canonical form: <c>registry/repository[:tag][@digest]</c>.</summary>
    public override string ToString() =>
        Name + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);
}

public sealed class InvalidImageReferenceException(string name, string reason)
    : FormatException($"invalid image name '{name}': {reason}")
{
    public string Reason { get; } = reason;
}

/// <summary>A hand-written parser (rather than one big regular expression) so that each rejection says why.</summary>
internal static class ReferenceGrammar
{
    private static readonly string[] DockerHubAliases = ["docker.io", "index.docker.io", "registry-1.docker.io"];

    private static readonly Dictionary<string, int> DigestHexLengths = new(StringComparer.Ordinal)
    {
        ["sha256"] = 64,
        ["sha384"] = 96,
        ["sha512"] = 128,
    };

    /// <summary>Returns null and the parsed reference, or the reason the name is rejected.</summary>
    public static string? Check(string? input, out ImageReference? reference)
    {
        reference = null;
        if (string.IsNullOrEmpty(input))
        {
            return "name is empty";
        }

        // Docker refuses a bare image id, which would otherwise read as a repository name.
        if (input.Length == 64 && input.All(IsLowerHex))
        {
            return "cannot specify a 64-character hexadecimal string (an image id) as a name";
        }

        var remainder = input;
        string? digest = null;
        var at = remainder.IndexOf('@');
        if (at >= 0)
        {
            digest = remainder[(at + 1)..];
            remainder = remainder[..at];
            if (CheckDigest(digest) is { } digestError)
            {
                return digestError;
            }
        }

        string? tag = null;
        var lastColon = remainder.LastIndexOf(':');
        if (lastColon > remainder.LastIndexOf('/'))
        {
            tag = remainder[(lastColon + 1)..];
            remainder = remainder[..lastColon];
            if (CheckTag(tag) is { } tagError)
            {
                return tagError;
            }
        }

        if (remainder.Length == 0)
        {
            return "repository name is empty";
        }

        var (registry, repository) = SplitRegistry(remainder);
        if (registry is not null && CheckRegistry(registry) is { } registryError)
        {
            return registryError;
        }
        if (CheckRepository(repository) is { } repositoryError)
        {
            return repositoryError;
        }

        registry ??= ImageReference.DockerHub;
        if (DockerHubAliases.Contains(registry, StringComparer.OrdinalIgnoreCase))
        {
            registry = ImageReference.DockerHub;
            if (!repository.Contains('/'))
            {
                repository = "library/" + repository;
            }
        }

        if (registry.Length + 1 + repository.Length > ImageReference.NameTotalLengthMax)
        {
            return $"name '{registry}/{repository}' is longer than {ImageReference.NameTotalLengthMax} characters";
        }

        reference = new ImageReference(registry, repository, tag ?? (digest is null ? "latest" : null), digest);
        return null;
    }

    private static (string? Registry, string Repository) SplitRegistry(string name)
    {
        var slash = name.IndexOf('/');
        if (slash < 0)
        {
            return (null, name);
        }
        var first = name[..slash];
        return first.Contains('.') || first.Contains(':') || first == "localhost"
            ? (first, name[(slash + 1)..])
            : (null, name);
    }

    private static string? CheckDigest(string digest)
    {
        var colon = digest.IndexOf(':');
        if (colon <= 0)
        {
            return $"invalid digest '{digest}': expected <algorithm>:<hex>, e.g. sha256:<64 hex digits>";
        }
        var algorithm = digest[..colon];
        var hex = digest[(colon + 1)..];
        if (!DigestHexLengths.TryGetValue(algorithm, out var length))
        {
            return $"unsupported digest algorithm '{algorithm}' (supported: sha256, sha384, sha512)";
        }
        if (!hex.All(IsLowerHex))
        {
            return $"invalid {algorithm} digest: the encoded part must be lower-case hexadecimal";
        }
        if (hex.Length != length)
        {
            return $"invalid {algorithm} digest: expected {length} hex digits, got {hex.Length}";
        }
        return null;
    }

    private static string? CheckTag(string tag)
    {
        if (tag.Length == 0)
        {
            return "tag is empty";
        }
        if (tag.Length > ImageReference.TagLengthMax)
        {
            return $"tag is longer than {ImageReference.TagLengthMax} characters";
        }
        if (!IsWordChar(tag[0]))
        {
            return $"invalid tag '{tag}': it must start with a letter, digit or '_'";
        }
        foreach (var c in tag)
        {
            if (!IsWordChar(c) && c is not '.' and not '-')
            {
                return $"invalid character '{Printable(c)}' in tag (allowed: letters, digits, '_', '.', '-')";
            }
        }
        return null;
    }

    private static string? CheckRegistry(string registry)
    {
        string host;
        string? port = null;
        if (registry.StartsWith('['))
        {
            var close = registry.IndexOf(']');
            if (close < 0)
            {
                return $"invalid registry host '{registry}': unterminated IPv6 address";
            }
            host = registry[..(close + 1)];
            var address = registry[1..close];
            if (address.Length == 0 || !address.All(c => char.IsAsciiHexDigit(c) || c == ':'))
            {
                return $"invalid registry host '{host}': not an IPv6 address";
            }
            var rest = registry[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':')
                {
                    return $"invalid registry host '{registry}'";
                }
                port = rest[1..];
            }
        }
        else
        {
            var colon = registry.IndexOf(':');
            host = colon < 0 ? registry : registry[..colon];
            port = colon < 0 ? null : registry[(colon + 1)..];
            foreach (var label in host.Split('.'))
            {
                if (label.Length == 0)
                {
                    return $"invalid registry host '{host}': empty label (leading, trailing or double '.')";
                }
                if (label.Any(c => !char.IsAsciiLetterOrDigit(c) && c != '-'))
                {
                    var bad = label.First(c => !char.IsAsciiLetterOrDigit(c) && c != '-');
                    return $"invalid character '{Printable(bad)}' in registry host '{host}'";
                }
                if (label[0] == '-' || label[^1] == '-')
                {
                    return $"invalid registry host '{host}': a label must not start or end with '-'";
                }
            }
        }

        if (port is not null)
        {
            if (port.Length is 0 or > 5 || !port.All(char.IsAsciiDigit) || int.Parse(port, System.Globalization.CultureInfo.InvariantCulture) is < 1 or > 65535)
            {
                return $"invalid port '{port}' in registry '{registry}' (expected 1-65535)";
            }
        }
        return null;
    }

    private static string? CheckRepository(string repository)
    {
        foreach (var component in repository.Split('/'))
        {
            if (component.Length == 0)
            {
                return $"invalid repository '{repository}': empty path component (leading, trailing or double '/')";
            }
            if (CheckComponent(component) is { } error)
            {
                return $"invalid repository '{repository}': {error}";
            }
        }
        return null;
    }

    // component := alnum+ (separator alnum+)*, separator := '.' | '_' | '__' | '-'+
    private static string? CheckComponent(string component)
    {
        foreach (var c in component)
        {
            if (char.IsAsciiLetterUpper(c))
            {
                return "repository name must be lowercase";
            }
            if (!IsLowerAlnum(c) && c is not '.' and not '_' and not '-')
            {
                return $"invalid character '{Printable(c)}'";
            }
        }

        var i = 0;
        while (true)
        {
            var start = i;
            while (i < component.Length && IsLowerAlnum(component[i]))
            {
                i++;
            }
            if (i == start)
            {
                return $"path component '{component}' must start and end with a letter or digit, with single separators ('.', '_', '__' or dashes) between";
            }
            if (i == component.Length)
            {
                return null;
            }
            var separator = component[i];
            var run = 0;
            while (i < component.Length && component[i] == separator)
            {
                i++;
                run++;
            }
            var allowed = separator switch
            {
                '.' => run == 1,
                '_' => run <= 2,
                _ => true,
            };
            if (!allowed)
            {
                return $"path component '{component}' has an invalid separator '{new string(separator, run)}'";
            }
            if (i < component.Length && !IsLowerAlnum(component[i]))
            {
                return $"path component '{component}' has an invalid separator '{component[(i - run)..(i + 1)]}'";
            }
        }
    }

    private static bool IsLowerHex(char c) => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f';

    private static bool IsLowerAlnum(char c) => char.IsAsciiDigit(c) || char.IsAsciiLetterLower(c);

    private static bool IsWordChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';

    private static string Printable(char c) => char.IsControl(c) || char.IsWhiteSpace(c) ? $"\\u{(int)c:x4}" : c.ToString();
}
