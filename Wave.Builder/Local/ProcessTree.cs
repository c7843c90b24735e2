using System.Globalization;
using System.Runtime.InteropServices;

namespace Wave.Builder.Local;

/// <summary>
/// Kills a process and all its descendants. Process.Kill(entireProcessTree) is not enough for buildah: a RUN step's
/// grandchildren (<c>buildah-chroot-exec → sh → sleep</c>) survived it here and kept running, reparented to init.
/// So every descendant is first frozen (SIGSTOP: a frozen process cannot fork), the tree is scanned again until it
/// stops growing, and only then is everything killed at once.
/// </summary>
internal static class ProcessTree
{
    private const int SigKill = 9;
    private const int SigStop = 19;

    public static void Kill(int rootProcessId)
    {
        if (!OperatingSystem.IsLinux())
        {
            KillPortably(rootProcessId);
            return;
        }
        var frozen = new HashSet<int>();
        for (var round = 0; round < 50; round++)
        {
            var members = Members(rootProcessId);
            var fresh = members.Where(frozen.Add).ToList();
            if (fresh.Count == 0)
            {
                break;
            }
            foreach (var pid in fresh)
            {
                _ = Signal(pid, SigStop);
            }
        }
        foreach (var pid in frozen)
        {
            _ = Signal(pid, SigKill);
        }
    }

    /// <summary>The root and its descendants, found through the parent ids in <c>/proc/PID/stat</c>.</summary>
    internal static HashSet<int> Members(int rootProcessId)
    {
        var childrenOf = new Dictionary<int, List<int>>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            var parent = ParentOf(dir);
            if (parent is { } p)
            {
                if (!childrenOf.TryGetValue(p, out var list))
                {
                    childrenOf[p] = list = [];
                }
                list.Add(pid);
            }
        }
        var members = new HashSet<int> { rootProcessId };
        var pending = new Stack<int>([rootProcessId]);
        while (pending.TryPop(out var pid))
        {
            foreach (var child in childrenOf.GetValueOrDefault(pid) ?? [])
            {
                if (members.Add(child))
                {
                    pending.Push(child);
                }
            }
        }
        return members;
    }

    /// <summary>The 4th field of /proc/PID/stat; the 2nd (the command name, in parentheses) may itself hold spaces and ')'.</summary>
    internal static int? ParentFromStat(string stat)
    {
        var end = stat.LastIndexOf(')');
        if (end < 0)
        {
            return null;
        }
        var fields = stat[(end + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields.Length > 1 && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var parent) ? parent : null;
    }

    private static int? ParentOf(string procDirectory)
    {
        try
        {
            return ParentFromStat(File.ReadAllText(Path.Combine(procDirectory, "stat")));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // exited meanwhile
        }
    }

    private static void KillPortably(int rootProcessId)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(rootProcessId);
            process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
        }
    }

    // A plain DllImport: LibraryImport would need unsafe code enabled for the whole project, for one blittable call.
#pragma warning disable SYSLIB1054
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Signal(int pid, int signal);
#pragma warning restore SYSLIB1054
}
