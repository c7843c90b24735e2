using System.Formats.Tar;

namespace Wave.Core.Scans.Sbom;

/// <summary>
/// The package-metadata files of an image, read from its layers in order the way a container runtime stacks them:
/// a later layer's file replaces an earlier one, a whiteout (<c>dir/.wh.name</c>) removes <c>dir/name</c> and what is
/// under it from the layers below, and an opaque whiteout (<c>dir/.wh..wh..opq</c>) removes everything the layers below
/// had under <c>dir/</c>. Only the files <see cref="IsPackageMetadata"/> selects are kept (bounded in size); symbolic
/// and hard links between kept files are followed (os-release is usually a link).
/// </summary>
public sealed class ImageFiles
{
    public const long DefaultMaxFileBytes = 64L * 1024 * 1024;
    public const long DefaultMaxTotalBytes = 512L * 1024 * 1024;

    private const string WhiteoutPrefix = ".wh.";
    private const string OpaqueWhiteout = ".wh..wh..opq";

    private readonly SortedDictionary<string, Entry> _files = new(StringComparer.Ordinal);
    private readonly long _maxFileBytes;
    private readonly long _maxTotalBytes;
    private long _totalBytes;

    public ImageFiles(long maxFileBytes = DefaultMaxFileBytes, long maxTotalBytes = DefaultMaxTotalBytes)
    {
        _maxFileBytes = maxFileBytes;
        _maxTotalBytes = maxTotalBytes;
    }

    /// <summary>A kept path: its bytes, or the path a symbolic link points at.</summary>
    private sealed record Entry(byte[]? Content, string? LinkTarget);

    /// <summary>How many layers were applied.</summary>
    public int LayerCount { get; private set; }

    /// <summary>
    /// Applies one layer: <paramref name="tar"/> is its uncompressed tar stream, read to the end of the archive (the
    /// caller drains what follows, e.g. to finish a digest).
    /// </summary>
    public async Task AddLayerAsync(Stream tar, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tar);
        var removed = new List<string>();
        var opaque = new List<string>();
        var added = new Dictionary<string, Entry>(StringComparer.Ordinal);
        var hardLinks = new List<(string Path, string Target)>();
        await using var reader = new TarReader(tar, leaveOpen: true);
        while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
        {
            var path = Normalize(entry.Name);
            if (path is null)
            {
                continue;
            }
            var slash = path.LastIndexOf('/');
            var name = path[(slash + 1)..];
            var directory = slash < 0 ? "" : path[..(slash + 1)];
            if (name == OpaqueWhiteout)
            {
                opaque.Add(directory);
                continue;
            }
            if (name.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
            {
                removed.Add(directory + name[WhiteoutPrefix.Length..]);
                continue;
            }
            if (!IsPackageMetadata(path))
            {
                continue;
            }
            switch (entry.EntryType)
            {
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    added[path] = new Entry(await ReadAsync(path, entry, cancellationToken), null);
                    break;
                case TarEntryType.SymbolicLink when !string.IsNullOrEmpty(entry.LinkName):
                    added[path] = new Entry(null, ResolveLink(directory, entry.LinkName));
                    break;
                case TarEntryType.HardLink when Normalize(entry.LinkName) is { } target:
                    hardLinks.Add((path, target));
                    break;
                default:
                    break;
            }
        }
        // What this layer removes or hides belongs to the layers below it; then its own files go on top.
        foreach (var directory in opaque)
        {
            RemoveUnder(directory);
        }
        foreach (var path in removed)
        {
            Remove(path);
            RemoveUnder(path + "/");
        }
        foreach (var (path, entry) in added)
        {
            Put(path, entry);
        }
        foreach (var (path, target) in hardLinks)
        {
            // A hard link names a file of the same layer or a lower one.
            if ((added.GetValueOrDefault(target) ?? _files.GetValueOrDefault(target)) is { } linked)
            {
                Put(path, linked);
            }
        }
        LayerCount++;
    }

    /// <summary>The kept files after every layer, links resolved (a link to nothing kept is left out).</summary>
    public IReadOnlyDictionary<string, byte[]> Files()
    {
        var result = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (path, entry) in _files)
        {
            var current = entry;
            for (var hops = 0; current?.Content is null && current?.LinkTarget is { } target && hops < 16; hops++)
            {
                current = _files.GetValueOrDefault(target);
            }
            if (current?.Content is { } content)
            {
                result[path] = content;
            }
        }
        return result;
    }

    /// <summary>
    /// The files that say what is installed: dpkg's status database (also distroless images' <c>status.d/</c>), apk's
    /// installed database, Conda's <c>conda-meta/*.json</c> records, Python distributions' <c>*.dist-info/METADATA</c>
    /// and <c>*.egg-info/PKG-INFO</c> (or an <c>*.egg-info</c> file), and the release files naming the distribution.
    /// </summary>
    public static bool IsPackageMetadata(string path)
    {
        switch (path)
        {
            case "var/lib/dpkg/status" or "lib/apk/db/installed" or "etc/os-release" or "usr/lib/os-release" or "etc/alpine-release" or "etc/debian_version":
                return true;
        }
        if (path.StartsWith("var/lib/dpkg/status.d/", StringComparison.Ordinal))
        {
            var name = path["var/lib/dpkg/status.d/".Length..];
            return name.Length > 0 && !name.Contains('/') && !name.EndsWith(".md5sums", StringComparison.Ordinal);
        }
        var slash = path.LastIndexOf('/');
        var parent = slash < 0 ? "" : path[..slash];
        var file = path[(slash + 1)..];
        var parentName = parent[(parent.LastIndexOf('/') + 1)..];
        return (parentName == "conda-meta" && file.EndsWith(".json", StringComparison.Ordinal))
            || (file == "METADATA" && parentName.EndsWith(".dist-info", StringComparison.Ordinal))
            || (file == "PKG-INFO" && parentName.EndsWith(".egg-info", StringComparison.Ordinal))
            || file.EndsWith(".egg-info", StringComparison.Ordinal);
    }

    private async Task<byte[]> ReadAsync(string path, TarEntry entry, CancellationToken cancellationToken)
    {
        if (entry.Length > _maxFileBytes)
        {
            throw new ScanException($"{path} in the image is {entry.Length} bytes, more than the {_maxFileBytes} bytes a package database may have");
        }
        _totalBytes += entry.Length;
        if (_totalBytes > _maxTotalBytes)
        {
            throw new ScanException($"the image's package metadata is more than {_maxTotalBytes} bytes");
        }
        if (entry.DataStream is null)
        {
            return [];
        }
        var content = new byte[entry.Length];
        await entry.DataStream.ReadExactlyAsync(content, cancellationToken);
        return content;
    }

    private void Put(string path, Entry entry) => _files[path] = entry;

    private void Remove(string path) => _files.Remove(path);

    private void RemoveUnder(string directory)
    {
        if (directory.Length == 0)
        {
            _files.Clear();
            return;
        }
        foreach (var path in _files.Keys.Where(p => p.StartsWith(directory, StringComparison.Ordinal)).ToList())
        {
            _files.Remove(path);
        }
    }

    /// <summary>A tar entry name as a relative path without <c>./</c>, <c>/</c> or a trailing slash; null for one that climbs out (<c>..</c>).</summary>
    internal static string? Normalize(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return null;
        }
        var parts = new List<string>();
        foreach (var part in name.Split('/'))
        {
            switch (part)
            {
                case "" or ".":
                    continue;
                case "..":
                    return null;
                default:
                    parts.Add(part);
                    break;
            }
        }
        return parts.Count == 0 ? null : string.Join('/', parts);
    }

    /// <summary>Where a symbolic link in <paramref name="directory"/> points, as a path from the image's root.</summary>
    private static string? ResolveLink(string directory, string target)
    {
        var parts = target.StartsWith('/') ? new List<string>() : [.. directory.Split('/', StringSplitOptions.RemoveEmptyEntries)];
        foreach (var part in target.Split('/'))
        {
            switch (part)
            {
                case "" or ".":
                    continue;
                case "..":
                    if (parts.Count > 0)
                    {
                        parts.RemoveAt(parts.Count - 1); // ".." at the root stays at the root, as in the kernel
                    }
                    break;
                default:
                    parts.Add(part);
                    break;
            }
        }
        return parts.Count == 0 ? null : string.Join('/', parts);
    }
}
