using System.Globalization;

namespace Wave.Tests.AppHost;

/// <summary>One process as /proc shows it; <see cref="StartTicks"/> tells it apart from a later process given the same id.</summary>
public sealed record ProcessEntry(int Pid, int ParentPid, long StartTicks, string CommandLine)
{
    public override string ToString() => $"{Pid} ({CommandLine})";
}

/// <summary>
/// The machine's process list, read from /proc independently of Aspire, to check that what an AppHost started is gone
/// after it stopped.
/// </summary>
internal static class ProcessTable
{
    public static IReadOnlyList<ProcessEntry> Snapshot()
    {
        var entries = new List<ProcessEntry>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Read(pid) is { } entry)
            {
                entries.Add(entry);
            }
        }
        return entries;
    }

    /// <summary>Every process below <paramref name="root"/> (children, grandchildren, …) in <paramref name="table"/>, the root included.</summary>
    public static IReadOnlyList<ProcessEntry> Tree(IReadOnlyList<ProcessEntry> table, ProcessEntry root)
    {
        var found = new List<ProcessEntry> { root };
        for (var i = 0; i < found.Count; i++)
        {
            found.AddRange(table.Where(p => p.ParentPid == found[i].Pid && !found.Contains(p)));
        }
        return found;
    }

    /// <summary>True while that very process (same id and start time) exists and is not a zombie.</summary>
    public static bool IsAlive(ProcessEntry entry) => Read(entry.Pid) is { } now && now.StartTicks == entry.StartTicks && State(entry.Pid) is not ('Z' or 'X');

    /// <summary>Whether the process's environment holds <paramref name="entry"/> (<c>NAME=value</c>): readable for our own user's processes and as root.</summary>
    public static bool Carries(int pid, string entry)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/environ").Split('\0').Contains(entry, StringComparer.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static ProcessEntry? Read(int pid)
    {
        try
        {
            // "pid (comm) S ppid …": comm may hold spaces and parentheses, so the fields are read after the last ')'.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var commandLine = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
            return new ProcessEntry(pid, int.Parse(fields[1], CultureInfo.InvariantCulture), long.Parse(fields[19], CultureInfo.InvariantCulture), commandLine);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    private static char? State(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
