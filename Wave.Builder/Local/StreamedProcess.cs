using System.ComponentModel;
using System.Diagnostics;
using System.Threading.Channels;

namespace Wave.Builder.Local;

/// <summary>
/// Runs a command and hands each line of its standard output and error to a callback as it is written. When the
/// token is cancelled the whole process tree is killed (buildah's RUN steps are its grandchildren), the lines it
/// wrote until then are still delivered, and <see cref="OperationCanceledException"/> is thrown.
/// </summary>
internal static class StreamedProcess
{
    /// <summary>How long the output of a killed tree may take to reach its end (pipes close when the last holder dies).</summary>
    private static readonly TimeSpan DrainAfterKill = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string> environment,
        Func<string, ValueTask> onLine,
        CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var lines = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
        var openStreams = 2;
        void Receive(string? line)
        {
            if (line is not null)
            {
                lines.Writer.TryWrite(line);
            }
            else if (Interlocked.Decrement(ref openStreams) == 0)
            {
                lines.Writer.TryComplete();
            }
        }

        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Receive(e.Data);
        process.ErrorDataReceived += (_, e) => Receive(e.Data);
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new CommandStartException($"cannot start '{fileName}': {e.Message}", e);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();

        // Lines go to the callback on this one reader, in order, independent of the process' fate.
        var delivery = Task.Run(async () =>
        {
            await foreach (var line in lines.Reader.ReadAllAsync(CancellationToken.None))
            {
                await onLine(line);
            }
        }, CancellationToken.None);

        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            KillTree(process);
            using var drained = new CancellationTokenSource(DrainAfterKill);
            try
            {
                await process.WaitForExitAsync(drained.Token);
            }
            catch (OperationCanceledException)
            {
                // A descendant outside the tree still holds the pipes; stop waiting for their end.
                lines.Writer.TryComplete();
            }
            await delivery;
            throw;
        }
        await delivery;
        return process.ExitCode;
    }

    private static void KillTree(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                ProcessTree.Kill(process.Id);
            }
        }
        catch (InvalidOperationException)
        {
            // it exited on its own meanwhile
        }
    }
}

/// <summary>The command could not be started at all (missing binary, no permission).</summary>
internal sealed class CommandStartException(string message, Exception inner) : Exception(message, inner);
