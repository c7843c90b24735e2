using System.Formats.Tar;
using System.Runtime.InteropServices;

namespace Wave.Builder.Sif;

/// <summary>
/// A directory being filled as an image's root filesystem, layer after layer, as a container runtime unpacks one:
/// files, directories, symlinks and hard links with their modes; whiteouts (<c>.wh.&lt;name&gt;</c>) remove what lower
/// layers put there, an opaque marker (<c>.wh..wh..opq</c>) empties its directory of lower-layer content. Every path is
/// resolved inside the root, with symlinks read as if the root were <c>/</c>, so neither a <c>..</c> in an entry name
/// (refused) nor a symlink planted by an earlier layer can make a write land outside it. Device nodes and FIFOs are
/// skipped (a runtime provides /dev). Ownership is not applied: the squashfs is made with every file owned by root.
/// </summary>
public sealed class RootFilesystem
{
    private const string WhiteoutPrefix = ".wh.";
    private const string OpaqueMarker = ".wh..wh..opq";
    private const int MaxSymlinkHops = 40;
    private const UnixFileMode OwnerAll = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Directory modes to restore at the end: while layers are applied every directory stays writable by its owner.</summary>
    private readonly Dictionary<string, UnixFileMode> _directoryModes = new(StringComparer.Ordinal);

    public RootFilesystem(string directory)
    {
        Directory.CreateDirectory(directory);
        Root = Path.GetFullPath(directory).TrimEnd('/');
    }

    /// <summary>The absolute path of the root directory.</summary>
    public string Root { get; }

    /// <summary>Entries skipped because they cannot be represented (device nodes, FIFOs).</summary>
    public int SkippedEntries { get; private set; }

    /// <summary>Applies one uncompressed layer tar. <paramref name="layerName"/> (its digest) appears in error messages.</summary>
    public async Task ApplyLayerAsync(Stream tar, string layerName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tar);
        var writtenByThisLayer = new HashSet<string>(StringComparer.Ordinal);
        using var reader = new TarReader(tar, leaveOpen: true);
        while (true)
        {
            TarEntry? entry;
            try
            {
                entry = await reader.GetNextEntryAsync(copyData: false, cancellationToken);
            }
            catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
            {
                throw new SifBuildException($"layer {layerName} is not a valid tar archive: {e.Message}", e);
            }
            if (entry is null)
            {
                break;
            }
            await ApplyEntryAsync(entry, layerName, writtenByThisLayer, cancellationToken);
        }
    }

    /// <summary>Writes a text file (an absolute or root-relative path), creating its directories; replaces what is there.</summary>
    public async Task WriteFileAsync(string path, string content, UnixFileMode mode, CancellationToken cancellationToken)
    {
        var host = Resolve(Components(path, "a generated file"), followLast: false);
        Directory.CreateDirectory(Path.GetDirectoryName(host)!);
        Remove(host);
        await File.WriteAllTextAsync(host, content, cancellationToken);
        SetMode(host, mode);
    }

    /// <summary>True when something (of any kind, a dangling symlink included) is at the path, resolved inside the root.</summary>
    public bool Exists(string path) => KindOf(Resolve(Components(path, "a path"), followLast: false)) != EntryKind.None;

    /// <summary>Creates a directory (and its parents) unless something is already there.</summary>
    public void EnsureDirectory(string path)
    {
        var host = Resolve(Components(path, "a directory"), followLast: true);
        if (KindOf(host) == EntryKind.None)
        {
            Directory.CreateDirectory(host);
        }
    }

    /// <summary>Creates a symlink unless something is already at the path.</summary>
    public void EnsureSymlink(string path, string target)
    {
        var host = Resolve(Components(path, "a symlink"), followLast: false);
        if (KindOf(host) == EntryKind.None)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(host)!);
            File.CreateSymbolicLink(host, target);
        }
    }

    /// <summary>Gives the directories the modes their layers asked for (deepest first). Call once all layers are applied.</summary>
    public void RestoreDirectoryModes()
    {
        foreach (var (path, mode) in _directoryModes.OrderByDescending(d => d.Key.Length))
        {
            if (KindOf(path) == EntryKind.Directory)
            {
                SetMode(path, mode);
            }
        }
        _directoryModes.Clear();
    }

    private async Task ApplyEntryAsync(TarEntry entry, string layerName, HashSet<string> writtenByThisLayer, CancellationToken cancellationToken)
    {
        var parts = Components(entry.Name, $"layer {layerName}: entry");
        if (parts.Count == 0)
        {
            return; // the root itself ("./")
        }
        var name = parts[^1];
        if (name == OpaqueMarker)
        {
            var directory = Resolve(parts[..^1], followLast: true);
            if (KindOf(directory) == EntryKind.Directory)
            {
                foreach (var child in Directory.EnumerateFileSystemEntries(directory).ToList())
                {
                    if (!writtenByThisLayer.Contains(child))
                    {
                        Remove(child);
                    }
                }
            }
            return;
        }
        if (name.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
        {
            var hidden = Path.Combine(Resolve(parts[..^1], followLast: true), name[WhiteoutPrefix.Length..]);
            if (!writtenByThisLayer.Contains(hidden))
            {
                Remove(hidden);
            }
            return;
        }

        var host = Resolve(parts, followLast: false);
        switch (entry.EntryType)
        {
            case TarEntryType.Directory:
                if (KindOf(host) != EntryKind.Directory)
                {
                    Remove(host);
                    Directory.CreateDirectory(host);
                }
                SetMode(host, entry.Mode | OwnerAll);
                _directoryModes[host] = entry.Mode;
                break;
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                PrepareFor(host);
                await using (var file = new FileStream(host, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
                {
                    if (entry.DataStream is { } data)
                    {
                        await data.CopyToAsync(file, cancellationToken);
                    }
                }
                SetMode(host, entry.Mode);
                break;
            case TarEntryType.SymbolicLink:
                PrepareFor(host);
                File.CreateSymbolicLink(host, entry.LinkName);
                break;
            case TarEntryType.HardLink:
                var target = Resolve(Components(entry.LinkName, $"layer {layerName}: hard link target of '{entry.Name}'"), followLast: false);
                if (KindOf(target) != EntryKind.File)
                {
                    throw new SifBuildException($"layer {layerName}: hard link '{entry.Name}' points at '{entry.LinkName}', which is not a file written before it");
                }
                if (target == host)
                {
                    break;
                }
                PrepareFor(host);
                if (Link(target, host) != 0)
                {
                    throw new SifBuildException($"layer {layerName}: cannot create hard link '{entry.Name}' to '{entry.LinkName}' (errno {Marshal.GetLastPInvokeError()})");
                }
                break;
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                SkippedEntries++;
                return;
            default:
                // PAX global headers and other metadata-only entries.
                return;
        }
        // Its directories count as this layer's too, even without entries of their own, so that an opaque marker
        // later in the same layer does not remove them.
        for (var path = host; path.Length > Root.Length; path = Path.GetDirectoryName(path)!)
        {
            if (!writtenByThisLayer.Add(path))
            {
                break;
            }
        }
    }

    /// <summary>Makes room for a new non-directory entry: parents created, whatever is at the path removed.</summary>
    private static void PrepareFor(string host)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(host)!);
        Remove(host);
    }

    /// <summary>
    /// The path components of an entry name: leading <c>/</c> and <c>./</c> dropped, <c>.</c> and empty parts skipped.
    /// A <c>..</c> component is refused, whatever follows it.
    /// </summary>
    private static List<string> Components(string name, string what)
    {
        var parts = new List<string>();
        foreach (var part in name.Split('/'))
        {
            if (part is "" or ".")
            {
                continue;
            }
            if (part == "..")
            {
                throw new SifBuildException($"{what} '{name}' escapes the root filesystem ('..' is not allowed in an entry name)");
            }
            parts.Add(part);
        }
        return parts;
    }

    /// <summary>
    /// The host path of <paramref name="parts"/> inside the root. Symlinks met on the way are followed as the container
    /// would follow them, with the root as <c>/</c> and <c>..</c> stopping at it; the last component is followed only
    /// when <paramref name="followLast"/>. The result is always inside <see cref="Root"/>.
    /// </summary>
    private string Resolve(IReadOnlyList<string> parts, bool followLast)
    {
        var resolved = new List<string>();
        var pending = new LinkedList<string>(parts);
        var hops = 0;
        while (pending.First is { } first)
        {
            var part = first.Value;
            pending.RemoveFirst();
            if (part is "" or ".")
            {
                continue;
            }
            if (part == "..")
            {
                if (resolved.Count > 0)
                {
                    resolved.RemoveAt(resolved.Count - 1);
                }
                continue;
            }
            var host = Join(resolved, part);
            if ((pending.Count > 0 || followLast) && new FileInfo(host).LinkTarget is { } link)
            {
                if (++hops > MaxSymlinkHops)
                {
                    throw new SifBuildException($"too many levels of symbolic links under /{string.Join('/', parts)}");
                }
                if (link.StartsWith('/'))
                {
                    resolved.Clear();
                }
                foreach (var linkPart in link.Split('/').Reverse())
                {
                    pending.AddFirst(linkPart);
                }
                continue;
            }
            resolved.Add(part);
        }
        return resolved.Count == 0 ? Root : Join(resolved[..^1], resolved[^1]);
    }

    private string Join(List<string> parents, string last) =>
        parents.Count == 0 ? Root + "/" + last : Root + "/" + string.Join('/', parents) + "/" + last;

    private enum EntryKind
    {
        None,
        File,
        Directory,
        Symlink,
        Other,
    }

    /// <summary>What is at a host path, not following a symlink there.</summary>
    private static EntryKind KindOf(string host)
    {
        FileSystemInfo info = new FileInfo(host);
        if (info.LinkTarget is not null)
        {
            return EntryKind.Symlink;
        }
        if (Directory.Exists(host))
        {
            return EntryKind.Directory;
        }
        if (File.Exists(host))
        {
            return (info.Attributes & (FileAttributes.Device | FileAttributes.System)) != 0 ? EntryKind.Other : EntryKind.File;
        }
        return EntryKind.None;
    }

    private static void Remove(string host)
    {
        switch (KindOf(host))
        {
            case EntryKind.Directory:
                MakeOwnerWritable(host);
                Directory.Delete(host, recursive: true);
                break;
            case EntryKind.None:
                break;
            default:
                File.Delete(host);
                break;
        }
    }

    /// <summary>Directories whose layers made them read-only must be writable to empty them.</summary>
    private static void MakeOwnerWritable(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        File.SetUnixFileMode(directory, File.GetUnixFileMode(directory) | OwnerAll);
        foreach (var child in new DirectoryInfo(directory).EnumerateDirectories("*", SearchOption.AllDirectories))
        {
            if (child.LinkTarget is null)
            {
                child.UnixFileMode |= OwnerAll;
            }
        }
    }

    // Root filesystems are only built on Linux; the guard keeps the platform analyzer satisfied.
    private static void SetMode(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode);
        }
    }

    // A plain DllImport: LibraryImport would need unsafe code enabled for the whole project, for one call.
#pragma warning disable SYSLIB1054
    [DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int Link(string existingPath, string newPath);
#pragma warning restore SYSLIB1054
}
