using System.Diagnostics;

namespace Wave.AppHost.Orchestration;

/// <summary>
/// A server or service the AppHost started: its output goes to a bounded tail (for the dashboard) and to the
/// AppHost's console with the resource's name in front; stopping it sends a signal, waits, and then kills whatever is
/// left of its process tree, so that nothing it spawned outlives the AppHost.
/// </summary>
public sealed class ManagedProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly LogTail _log;
    private readonly string _name;

    private ManagedProcess(string name, Process process, LogTail log)
    {
        _name = name;
        _process = process;
        _log = log;
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public Task Exited { get; private set; } = Task.CompletedTask;

    public static ManagedProcess Start(string name, string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?> environment,
        LogTail log, string? workingDirectory = null, bool echo = true)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var managed = new ManagedProcess(name, process, log);
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }
            log.Add(line);
            if (echo)
            {
                Console.Out.WriteLine($"[{name}] {line}");
            }
        }
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();
        managed.Exited = process.WaitForExitAsync();
        return managed;
    }

    /// <summary>Sends <paramref name="signal"/>, waits up to <paramref name="grace"/>, then SIGKILLs the remaining tree.</summary>
    public async Task StopAsync(int signal, TimeSpan grace)
    {
        var tree = ProcessTree.Descendants(_process.Id);
        if (!_process.HasExited)
        {
            ProcessTree.Signal(_process.Id, signal);
            await Task.WhenAny(Exited, Task.Delay(grace));
        }
        if (!_process.HasExited)
        {
            _log.Add($"[apphost] {_name} did not stop within {grace.TotalSeconds:0}s of signal {signal}: killing it");
        }
        // Children the signal did not reach (or that were re-parented when their parent exited) go too.
        foreach (var pid in tree.Append(_process.Id).Where(ProcessTree.IsAlive))
        {
            ProcessTree.Signal(pid, ProcessTree.SigKill);
        }
        await Task.WhenAny(Exited, Task.Delay(TimeSpan.FromSeconds(5)));
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await StopAsync(ProcessTree.SigKill, TimeSpan.FromSeconds(1));
        }
        _process.Dispose();
    }
}
