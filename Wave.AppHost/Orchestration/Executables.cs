namespace Wave.AppHost.Orchestration;

/// <summary>Finds server binaries: PATH first, then the folders Debian installs servers into outside PATH.</summary>
public static class Executables
{
    public static string? Find(string name)
    {
        var folders = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/sbin", "/usr/local/sbin"])
            .Concat(Directory.Exists("/usr/lib/postgresql")
                ? Directory.GetDirectories("/usr/lib/postgresql").OrderDescending(StringComparer.Ordinal).Select(d => Path.Combine(d, "bin"))
                : []);
        return folders.Select(folder => Path.Combine(folder, name)).FirstOrDefault(File.Exists);
    }

    public static int FreeLoopbackPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static async Task WaitForTcpAsync(int port, TimeSpan timeout, ManagedProcess process, string name, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{name} exited before it listened on 127.0.0.1:{port}; see its log");
            }
            try
            {
                using var client = new System.Net.Sockets.TcpClient();
                await client.ConnectAsync(System.Net.IPAddress.Loopback, port, cancellationToken);
                return;
            }
            catch (System.Net.Sockets.SocketException)
            {
                await Task.Delay(100, cancellationToken);
            }
        }
        throw new TimeoutException($"{name} did not listen on 127.0.0.1:{port} within {timeout.TotalSeconds:0}s");
    }

    /// <summary>Runs a command to completion; throws with its output when it fails.</summary>
    public static async Task<string> RunAsync(string fileName, IReadOnlyList<string> arguments, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var info = new System.Diagnostics.ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            info.Environment[key] = value;
        }
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(fileName)} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await stderr}{await stdout}");
        }
        return await stdout;
    }
}
