using System.Security.Cryptography;
using System.Text;

using Wave.Core.Builds;

namespace Wave.Builder.Local;

/// <summary>
/// One build's private folder: <c>Dockerfile</c>, <c>context/</c> (the files the Dockerfile COPYs), and next to
/// them, outside the context so a build cannot read them, <c>registries.conf</c>, <c>auth.json</c> (mode 0600) and
/// the digest file the push writes. Deleted as a whole when the build ends.
/// </summary>
internal sealed class BuildFolder
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private BuildFolder(string path) => Path = path;

    public string Path { get; }
    public string Dockerfile => System.IO.Path.Combine(Path, "Dockerfile");
    public string Context => System.IO.Path.Combine(Path, "context");
    public string RegistriesConf => System.IO.Path.Combine(Path, "registries.conf");
    public string AuthFile => System.IO.Path.Combine(Path, "auth.json");
    public string DigestFile => System.IO.Path.Combine(Path, "digest");

    /// <summary>A folder's layout without creating anything (for composing arguments).</summary>
    public static BuildFolder At(string path) => new(path);

    public static BuildFolder Create(string parent, string buildId)
    {
        var safeId = new string(buildId.Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' ? c : '-').Take(80).ToArray());
        var path = System.IO.Path.Combine(parent, $"{safeId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}");
        // Only the builder's user may look inside: the auth file is not the only thing worth protecting.
        Directory.CreateDirectory(parent);
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return new BuildFolder(path);
    }

    /// <summary>Null when every context path stays inside the context folder, otherwise why one does not.</summary>
    public static string? InvalidContextPath(IEnumerable<string> relativePaths)
    {
        foreach (var relative in relativePaths)
        {
            var parts = relative.Replace('\\', '/').Split('/');
            if (relative.Length == 0 || relative.StartsWith('/') || parts.Any(p => p is ".." or "" or "."))
            {
                return $"invalid context file path '{relative}'";
            }
        }
        return null;
    }

    public async Task WriteAsync(BuildJob job, string registriesConf, string authJson, CancellationToken cancellationToken)
    {
        await WriteContextAsync(job, Context, cancellationToken);
        await File.WriteAllTextAsync(Dockerfile, job.Dockerfile, Utf8, cancellationToken);
        await File.WriteAllTextAsync(RegistriesConf, registriesConf, Utf8, cancellationToken);
        var privateFile = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            privateFile.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        await using var auth = new FileStream(AuthFile, privateFile);
        await auth.WriteAsync(Utf8.GetBytes(authJson), cancellationToken);
    }

    /// <summary>
    /// Writes what a build's Dockerfile may COPY into <paramref name="context"/>: the unpacked <c>buildContext</c> first,
    /// so that the recipe's own files (conda.yml, layer-N.tar.gz) win over same-named ones of the archive, then the
    /// context files and the binary ones (frozen layers). The paths were checked before (<see cref="InvalidContextPath"/>).
    /// </summary>
    /// <exception cref="InvalidDataException">The buildContext is not a gzip tar, or an entry breaks the rules.</exception>
    public static async Task WriteContextAsync(BuildJob job, string context, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(context);
        if (job.BuildContext?.Data is { } archive)
        {
            await BuildContextUnpacker.UnpackAsync(archive, context, cancellationToken);
        }
        foreach (var (relative, content) in job.ContextFiles)
        {
            var file = System.IO.Path.Combine(context, relative.Replace('\\', '/'));
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(file)!);
            await File.WriteAllTextAsync(file, content, Utf8, cancellationToken);
        }
        foreach (var (relative, content) in job.BinaryContextFiles)
        {
            var file = System.IO.Path.Combine(context, relative.Replace('\\', '/'));
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(file)!);
            await File.WriteAllBytesAsync(file, content, cancellationToken);
        }
    }

    /// <summary>Housekeeping may run before the build wrote its files; buildah wants the file it is pointed at to exist.</summary>
    public void EnsureRegistriesConf(string fallback)
    {
        if (Directory.Exists(Path) && !File.Exists(RegistriesConf))
        {
            File.WriteAllText(RegistriesConf, fallback, Utf8);
        }
    }

    public string? ReadDigest()
    {
        if (!File.Exists(DigestFile))
        {
            return null;
        }
        var digest = File.ReadAllText(DigestFile).Trim();
        return digest.Length == 0 ? null : digest;
    }

    public void Delete(ILogger logger)
    {
        try
        {
            if (Directory.Exists(Path))
            {
                Directory.Delete(Path, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("could not remove build folder {Folder}: {Message}", Path, e.Message);
        }
    }
}
