using System.Globalization;
using System.Runtime.InteropServices;

namespace Wave.AppHost.Orchestration;

/// <summary>Signals and the process tree, read from /proc: what stopping "everything it started" needs on Linux.</summary>
public static partial class ProcessTree
{
    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigTerm = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SysKill(int pid, int signal);

    public static bool Signal(int pid, int signal) => SysKill(pid, signal) == 0;

    /// <summary>True while the process exists and is not a zombie waiting to be reaped.</summary>
    public static bool IsAlive(int pid)
    {
        var stat = ReadStat(pid);
        return stat is not null && stat.Value.State != 'Z' && stat.Value.State != 'X';
    }

    /// <summary>Every process below <paramref name="pid"/> (children, grandchildren, …).</summary>
    public static IReadOnlyList<int> Descendants(int pid)
    {
        var parents = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var child)
                && ReadStat(child) is { } stat)
            {
                parents[child] = stat.ParentId;
            }
        }
        var result = new List<int>();
        var frontier = new Queue<int>([pid]);
        while (frontier.Count > 0)
        {
            var current = frontier.Dequeue();
            foreach (var (child, parent) in parents)
            {
                if (parent == current && !result.Contains(child))
                {
                    result.Add(child);
                    frontier.Enqueue(child);
                }
            }
        }
        return result;
    }

    private static (char State, int ParentId)? ReadStat(int pid)
    {
        try
        {
            // "pid (comm) S ppid …": comm may hold spaces and parentheses, so parse after the last ')'.
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var rest = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return (rest[0][0], int.Parse(rest[1], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}
