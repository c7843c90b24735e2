using System.Diagnostics;
using System.Text;

namespace Wave.Tests.Infrastructure;

/// <summary>
/// A server or tool the tests start. Keeps the last lines of its output for failure messages, and kills the whole
/// process tree on dispose so that no server outlives the test run (a leftover server can hold CI's output open).
/// </summary>
public sealed class TestProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Queue<string> _tail = new();
    private readonly Lock _gate = new();
    private readonly StringBuilder _stdout = new();
    private const int TailLines = 200;

    private TestProcess(Process process) => _process = process;

    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public string Output
    {
        get
        {
            lock (_gate)
            {
                return string.Join('\n', _tail);
            }
        }
    }

    public static TestProcess Start(string fileName, IEnumerable<string> arguments, IDictionary<string, string?>? environment = null, string? workingDirectory = null)
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
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            info.Environment[key] = value;
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var result = new TestProcess(process);
        process.OutputDataReceived += (_, e) => result.Append(e.Data, isStdout: true);
        process.ErrorDataReceived += (_, e) => result.Append(e.Data, isStdout: false);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();
        return result;
    }

    /// <summary>Everything the process wrote to standard output (not only the tail).</summary>
    public string StandardOutput
    {
        get
        {
            lock (_gate)
            {
                return _stdout.ToString();
            }
        }
    }

    private void Append(string? line, bool isStdout)
    {
        if (line is null)
        {
            return;
        }
        lock (_gate)
        {
            if (isStdout)
            {
                _stdout.Append(line).Append('\n');
            }
            _tail.Enqueue(line);
            while (_tail.Count > TailLines)
            {
                _tail.Dequeue();
            }
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{_process.StartInfo.FileName} did not finish in {timeout.TotalSeconds:0}s; output:\n{Output}");
        }
        return _process.ExitCode;
    }

    /// <summary>Sends SIGKILL to the process tree (a crash, as far as the process can tell).</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException)
        {
        }
        _process.Dispose();
    }

    /// <summary>Runs a command to completion and returns its standard output; throws with its output when it fails.</summary>
    public static async Task<string> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan? timeout = null, IDictionary<string, string?>? environment = null)
    {
        var args = arguments.ToList();
        await using var process = Start(fileName, args, environment);
        var code = await process.WaitForExitAsync(timeout ?? TimeSpan.FromMinutes(3));
        if (code != 0)
        {
            throw new CommandFailedException(fileName, args, code, process.Output);
        }
        await Task.Delay(20); // the last asynchronous output lines arrive just after exit
        return process.StandardOutput;
    }
}

public sealed class CommandFailedException(string fileName, IReadOnlyList<string> arguments, int exitCode, string output)
    : Exception(new StringBuilder().Append(fileName).Append(' ').AppendJoin(' ', arguments)
        .Append($" exited with {exitCode}:\n").Append(output).ToString())
{
    public int ExitCode { get; } = exitCode;
    public string CommandOutput { get; } = output;
}
