using System.Formats.Tar;
using System.IO.Compression;

namespace Wave.Core.Builds;

/// <summary>
/// The rules a <c>buildContext</c> tar must keep to be unpacked safely into a folder of the builder: every entry stays
/// inside the context. Checked when an inline context is planned and again, by the same code, when the builder unpacks
/// any context (inline or fetched).
/// </summary>
/// <remarks>
/// Refused: absolute names and names with a <c>..</c> part; symbolic links whose target is absolute or leads out of the
/// context; hard links to anything but a regular file earlier in the archive; entries reached through a symbolic link of
/// the archive (extracting <c>a/x</c> after <c>a -&gt; /etc</c> would write outside); devices, FIFOs and other special
/// files. Kept: regular files, directories and symbolic links inside the context, with their permission bits.
/// </remarks>
public static class BuildContextTar
{
    /// <summary>The entry's path inside the context (<c>./a/b</c> → <c>a/b</c>; <c>.</c> → empty), or null when it escapes.</summary>
    public static string? RelativePath(string name)
    {
        var normalised = name.Replace('\\', '/');
        if (normalised.StartsWith('/'))
        {
            return null;
        }
        var parts = new List<string>();
        foreach (var part in normalised.Split('/'))
        {
            if (part is "" or ".")
            {
                continue;
            }
            if (part == "..")
            {
                return null;
            }
            parts.Add(part);
        }
        return string.Join('/', parts);
    }

    /// <summary>Null when every entry of the gzip tar keeps to the rules, otherwise what the first one that does not does.</summary>
    public static string? FindProblem(byte[] gzipBytes)
    {
        try
        {
            using var gzip = new GZipStream(new MemoryStream(gzipBytes, writable: false), CompressionMode.Decompress);
            using var tar = new TarReader(gzip);
            var rules = new Rules();
            while (tar.GetNextEntry() is { } entry)
            {
                if (rules.Check(entry) is { } problem)
                {
                    return problem;
                }
            }
            return null;
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            return $"is not a valid gzip tar: {e.Message}";
        }
    }

    /// <summary>The checks that depend on earlier entries (links), one archive at a time.</summary>
    public sealed class Rules
    {
        private readonly HashSet<string> _links = new(StringComparer.Ordinal);
        private readonly HashSet<string> _files = new(StringComparer.Ordinal);

        /// <summary>Null when <paramref name="entry"/> may be unpacked; remembers it for the entries after it.</summary>
        public string? Check(TarEntry entry)
        {
            var path = RelativePath(entry.Name);
            if (path is null)
            {
                return $"has the entry '{entry.Name}', which leads out of the build context";
            }
            if (ThroughLink(path) is { } link)
            {
                return $"has the entry '{entry.Name}' inside '{link}', a symbolic link of the archive";
            }
            switch (entry.EntryType)
            {
                case TarEntryType.Directory:
                    return null;
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    _files.Add(path);
                    return null;
                case TarEntryType.SymbolicLink:
                    if (entry.LinkName.StartsWith('/') || Resolve(Parent(path), entry.LinkName) is null)
                    {
                        return $"has the symbolic link '{entry.Name}' -> '{entry.LinkName}', which points out of the build context";
                    }
                    _links.Add(path);
                    return null;
                case TarEntryType.HardLink:
                    var target = RelativePath(entry.LinkName);
                    if (target is null || !_files.Contains(target))
                    {
                        return $"has the hard link '{entry.Name}' -> '{entry.LinkName}', which is not a file earlier in the archive";
                    }
                    _files.Add(path);
                    return null;
                case TarEntryType.ExtendedAttributes or TarEntryType.GlobalExtendedAttributes:
                    return null;
                default:
                    return $"has the entry '{entry.Name}' of type {entry.EntryType}; only files, directories and links can be unpacked";
            }
        }

        private string? ThroughLink(string path)
        {
            for (var slash = path.IndexOf('/'); slash > 0; slash = path.IndexOf('/', slash + 1))
            {
                if (_links.Contains(path[..slash]))
                {
                    return path[..slash];
                }
            }
            return null;
        }
    }

    private static string Parent(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash < 0 ? "" : path[..slash];
    }

    /// <summary><paramref name="target"/> read from <paramref name="directory"/>, or null when it climbs above the context.</summary>
    private static string? Resolve(string directory, string target)
    {
        var parts = directory.Length == 0 ? new List<string>() : [.. directory.Split('/')];
        foreach (var part in target.Replace('\\', '/').Split('/'))
        {
            if (part is "" or ".")
            {
                continue;
            }
            if (part == "..")
            {
                if (parts.Count == 0)
                {
                    return null;
                }
                parts.RemoveAt(parts.Count - 1);
                continue;
            }
            parts.Add(part);
        }
        return string.Join('/', parts);
    }
}
