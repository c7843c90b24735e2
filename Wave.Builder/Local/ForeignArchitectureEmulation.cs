using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Wave.Builder.Local;

/// <summary>
/// RUN steps of an image for another CPU (arm64 on an amd64 host) execute through qemu-user-static, which the
/// kernel starts for foreign binaries via a binfmt_misc entry. This checks the entry once per architecture and, when
/// it is missing or disabled, tries to switch it on (mount binfmt_misc, <c>update-binfmts --enable</c>).
/// </summary>
internal sealed class ForeignArchitectureEmulation(string binfmtDirectory, ILogger logger)
{
    public const string ArmFailureReason = "arm64 builds need qemu-user-static + binfmt_misc";

    private readonly ConcurrentDictionary<string, Lazy<Task<bool>>> _ready = new(StringComparer.Ordinal);

    /// <summary>The architecture of this machine in OCI terms (<c>amd64</c>, <c>arm64</c>).</summary>
    public static string HostArchitecture => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        Architecture.X86 => "386",
        Architecture.Arm => "arm",
        Architecture.S390x => "s390x",
        Architecture.Ppc64le => "ppc64le",
        Architecture.RiscV64 => "riscv64",
        var other => other.ToString().ToLowerInvariant(),
    };

    /// <summary>The qemu binfmt entry that runs binaries of an OCI architecture, or null when there is none we know.</summary>
    public static string? QemuEntryFor(string architecture) => architecture switch
    {
        "amd64" => "qemu-x86_64",
        "arm64" => "qemu-aarch64",
        "arm" => "qemu-arm",
        "386" => "qemu-i386",
        "s390x" => "qemu-s390x",
        "ppc64le" => "qemu-ppc64le",
        "riscv64" => "qemu-riscv64",
        _ => null,
    };

    /// <summary>A binfmt_misc entry's file starts with <c>enabled</c> or <c>disabled</c>.</summary>
    public static bool IsEnabledEntry(string entryText) =>
        entryText.Split('\n', 2)[0].Trim().Equals("enabled", StringComparison.Ordinal);

    /// <summary>Null when binaries of <paramref name="architecture"/> can run here, otherwise why they cannot.</summary>
    public async Task<string?> EnsureAsync(string architecture, CancellationToken cancellationToken)
    {
        if (architecture == HostArchitecture)
        {
            return null;
        }
        var failure = architecture == "arm64" ? ArmFailureReason : $"{architecture} builds need qemu-user-static + binfmt_misc";
        var entry = QemuEntryFor(architecture);
        if (entry is null)
        {
            return failure;
        }
        var check = _ready.GetOrAdd(architecture, _ => new Lazy<Task<bool>>(() => EnableAsync(entry)));
        if (await check.Value.WaitAsync(cancellationToken))
        {
            return null;
        }
        // Not cached as a failure: an operator may fix the machine without restarting the builder.
        _ready.TryRemove(new KeyValuePair<string, Lazy<Task<bool>>>(architecture, check));
        return failure;
    }

    private async Task<bool> EnableAsync(string entry)
    {
        if (IsEnabled(entry))
        {
            return true;
        }
        logger.LogInformation("binfmt_misc entry {Entry} is not enabled; trying to enable it", entry);
        if (!File.Exists(Path.Combine(binfmtDirectory, "status")))
        {
            await TryRunAsync("mount", ["-t", "binfmt_misc", "binfmt_misc", binfmtDirectory]);
        }
        await TryRunAsync("update-binfmts", ["--enable", entry]);
        var enabled = IsEnabled(entry);
        if (!enabled)
        {
            logger.LogWarning("binfmt_misc entry {Entry} could not be enabled (install qemu-user-static and binfmt-support; the builder needs root)", entry);
        }
        return enabled;
    }

    private bool IsEnabled(string entry)
    {
        try
        {
            var path = Path.Combine(binfmtDirectory, entry);
            return File.Exists(path) && IsEnabledEntry(File.ReadAllText(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private async Task TryRunAsync(string fileName, string[] arguments)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var exitCode = await StreamedProcess.RunAsync(fileName, arguments, new Dictionary<string, string>(),
                line =>
                {
                    logger.LogInformation("{Command}: {Line}", fileName, line);
                    return ValueTask.CompletedTask;
                }, timeout.Token);
            if (exitCode != 0)
            {
                logger.LogWarning("{Command} {Arguments} exited with {ExitCode}", fileName, string.Join(' ', arguments), exitCode);
            }
        }
        catch (Exception e) when (e is CommandStartException or OperationCanceledException)
        {
            logger.LogWarning("{Command} could not run: {Message}", fileName, e.Message);
        }
    }
}
