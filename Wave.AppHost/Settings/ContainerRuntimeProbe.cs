using System.Diagnostics;

namespace Wave.AppHost.Settings;

/// <summary>
/// Whether Aspire's container resources for Redis, Postgres and RabbitMQ can run here: DCP needs a container runtime
/// that answers, and the runtime needs their images, which come from docker.io. Checked once, before the model is built,
/// only for the distributed topology in run mode with <c>Wave:BackingServices=auto</c>.
/// </summary>
public static class ContainerRuntimeProbe
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>Null when containers can run; otherwise why not, for the log.</summary>
    public static async Task<string?> WhyContainersCannotRunAsync(IConfiguration configuration)
    {
        // The runtime DCP will use: Aspire's setting, else docker, else podman.
        var configured = configuration["DcpPublisher:ContainerRuntime"] ?? configuration["ASPIRE_CONTAINER_RUNTIME"];
        var runtime = configured ?? (OnPath("docker") ? "docker" : OnPath("podman") ? "podman" : null);
        if (runtime is null)
        {
            return "no container runtime (docker or podman) is installed";
        }
        if (!await AnswersAsync(runtime, "info", "--format", "{{.ServerVersion}}"))
        {
            return $"the container runtime ({runtime} info) does not answer";
        }
        try
        {
            using var http = new HttpClient { Timeout = Timeout };
            using var response = await http.GetAsync(new Uri("https://registry-1.docker.io/v2/"));
            return null; // any answer (401 without a token) means images can be pulled
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return $"docker.io, where Aspire's Redis, Postgres and RabbitMQ images come from, is not reachable ({e.Message})";
        }
    }

    private static bool OnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(folder => File.Exists(Path.Combine(folder, name)));

    private static async Task<bool> AnswersAsync(string fileName, params string[] arguments)
    {
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        try
        {
            using var process = Process.Start(info)!;
            using var timeout = new CancellationTokenSource(Timeout);
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var errors = process.StandardError.ReadToEndAsync(timeout.Token);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                return false;
            }
            await Task.WhenAll(output, errors);
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
