using System.Globalization;

using Wave.Builder.Local;

namespace Wave.Builder.Sif;

/// <summary>
/// Makes a squashfs image of a directory with <c>mksquashfs</c> (Debian package squashfs-tools). The options keep the
/// result a function of the directory's content: every file owned by root, no extended attributes, every timestamp
/// (files and the file system's own) set to the given time, and mksquashfs' reproducible ordering.
/// </summary>
public static class Squashfs
{
    private const int KeptOutputLines = 40;

    /// <summary>The mksquashfs arguments for <paramref name="directory"/> → <paramref name="output"/>.</summary>
    public static IReadOnlyList<string> Arguments(string directory, string output, DateTimeOffset time)
    {
        var seconds = Math.Max(0, time.ToUnixTimeSeconds()).ToString(CultureInfo.InvariantCulture);
        return [directory, output, "-noappend", "-all-root", "-no-xattrs", "-mkfs-time", seconds, "-all-time", seconds, "-no-progress", "-quiet"];
    }

    /// <summary>Runs mksquashfs; throws <see cref="SifBuildException"/> with its last output lines when it fails, or when it is not installed.</summary>
    public static async Task CreateAsync(string directory, string output, DateTimeOffset time, CancellationToken cancellationToken)
    {
        var mksquashfs = FindTool("mksquashfs")
            ?? throw new SifBuildException("mksquashfs is not installed: it comes with the squashfs-tools package (apt-get install -y squashfs-tools)");
        var lines = new Queue<string>();
        int exitCode;
        try
        {
            exitCode = await StreamedProcess.RunAsync(mksquashfs, Arguments(directory, output, time), new Dictionary<string, string>(), line =>
            {
                lines.Enqueue(line);
                if (lines.Count > KeptOutputLines)
                {
                    lines.Dequeue();
                }
                return ValueTask.CompletedTask;
            }, cancellationToken);
        }
        catch (CommandStartException e)
        {
            throw new SifBuildException($"mksquashfs could not be started: {e.Message}", e);
        }
        if (exitCode != 0)
        {
            throw new SifBuildException($"mksquashfs exited with {exitCode}:\n{string.Join('\n', lines)}");
        }
    }

    /// <summary>A program on PATH or in the sbin directories (where Debian puts some tools), or null.</summary>
    public static string? FindTool(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/sbin", "/usr/local/sbin"])
            .Select(directory => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);
}
