using System.Formats.Tar;
using System.IO.Compression;

using Wave.Core.Builds;

namespace Wave.Builder.Local;

/// <summary>
/// Unpacks a request's <c>buildContext</c> (a gzip tar) into a build's context folder: files with their permission
/// bits, directories, symbolic links; hard links as copies. Every entry is checked with <see cref="BuildContextTar.Rules"/>
/// before anything of it is written, so nothing lands outside the folder, whichever way the archive reached the builder.
/// (<see cref="TarFile.ExtractToDirectoryAsync(Stream, string, bool, CancellationToken)"/> refuses escaping names too,
/// but follows a symbolic link the archive created earlier, and would write through it.)
/// </summary>
public static class BuildContextUnpacker
{
    /// <exception cref="InvalidDataException">The archive is not a gzip tar, or an entry breaks the rules (the message says which).</exception>
    public static async Task UnpackAsync(byte[] gzipTar, string directory, CancellationToken cancellationToken)
    {
        var root = Path.GetFullPath(directory);
        await using var gzip = new GZipStream(new MemoryStream(gzipTar, writable: false), CompressionMode.Decompress);
        await using var tar = new TarReader(gzip);
        var rules = new BuildContextTar.Rules();
        while (await tar.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
        {
            if (rules.Check(entry) is { } problem)
            {
                throw new InvalidDataException("buildContext " + problem);
            }
            var relative = BuildContextTar.RelativePath(entry.Name)!;
            var target = Path.Combine(root, relative);
            if (relative.Length > 0 && !Path.GetFullPath(target).StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"buildContext has the entry '{entry.Name}', which leads out of the build context");
            }
            switch (entry.EntryType)
            {
                case TarEntryType.Directory:
                    Directory.CreateDirectory(target);
                    break;
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    await WriteFileAsync(entry, target, cancellationToken);
                    break;
                case TarEntryType.SymbolicLink:
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    Replace(target);
                    File.CreateSymbolicLink(target, entry.LinkName);
                    break;
                case TarEntryType.HardLink:
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    Replace(target);
                    File.Copy(Path.Combine(root, BuildContextTar.RelativePath(entry.LinkName)!), target);
                    break;
            }
        }
    }

    private static async Task WriteFileAsync(TarEntry entry, string target, CancellationToken cancellationToken)
    {
        Replace(target);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            // The owner keeps read and write, so that the build folder can always be removed.
            options.UnixCreateMode = (UnixFileMode)((int)entry.Mode & 0x1ff) | UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        await using var file = new FileStream(target, options);
        if (entry.DataStream is { } data)
        {
            await data.CopyToAsync(file, cancellationToken);
        }
    }

    /// <summary>A later entry of the same name replaces an earlier one, as tar does (never following a link).</summary>
    private static void Replace(string target)
    {
        var existing = new FileInfo(target);
        if (existing.LinkTarget is not null || existing.Exists)
        {
            existing.Delete();
        }
        else if (Directory.Exists(target))
        {
            Directory.Delete(target, recursive: true);
        }
    }
}
