using Wave.Core.Builds;

namespace Wave.Builder.Local;

/// <summary>
/// buildah invocations: the argument lists (pure, so they can be read and tested as they are) and running them with
/// the backend's private storage (the store of the build's platform, see <see cref="LocalBuildOptions.StoreKey"/>) and the
/// build's registries.conf and auth file, never the host's.
/// </summary>
internal sealed class BuildahCommand(LocalBuildOptions options, BuildFolder folder, string storeKey)
{
    public static IReadOnlyList<string> BudArguments(BuildJob job, BuildFolder folder, string localImage, LocalBuildOptions options)
    {
        var arguments = new List<string>
        {
            "bud",
            "--platform", job.Platform,
            "--isolation", options.Isolation,
            "--format", options.ImageFormat,
            "--authfile", folder.AuthFile,
            "--layers",
        };
        if (job.CacheRepository is { } cache)
        {
            arguments.AddRange(["--cache-from", cache, "--cache-to", cache]);
        }
        arguments.AddRange(["-t", localImage, "-f", folder.Dockerfile, folder.Context]);
        return arguments;
    }

    public static IReadOnlyList<string> PushArguments(BuildJob job, BuildFolder folder, string localImage, bool tlsVerify)
    {
        var arguments = new List<string> { "push", "--authfile", folder.AuthFile, "--digestfile", folder.DigestFile };
        if (!tlsVerify)
        {
            arguments.Add("--tls-verify=false");
        }
        if (job.Compression is { } compression)
        {
            // New layers get this compression; a layer the registry already holds (a base image's) is reused as it is,
            // since buildah 1.28 has no way to force recompression.
            arguments.AddRange(["--compression-format", compression.Mode]);
            if (compression.Level is { } level)
            {
                arguments.AddRange(["--compression-level", level.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            }
        }
        arguments.AddRange([localImage, "docker://" + job.TargetImage]);
        return arguments;
    }

    public Task<int> RunAsync(IEnumerable<string> arguments, Func<string, ValueTask> onLine, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(options.TempDirectory);
        string[] global =
        [
            "--root", Path.Combine(options.ResolvedStorageRoot, storeKey),
            "--runroot", Path.Combine(options.ResolvedRunRoot, storeKey),
            "--storage-driver", options.StorageDriver,
            "--registries-conf", folder.RegistriesConf,
        ];
        var environment = new Dictionary<string, string>
        {
            // Belt and braces next to the flags: code paths that read only the environment see the same files.
            ["REGISTRY_AUTH_FILE"] = folder.AuthFile,
            ["CONTAINERS_REGISTRIES_CONF"] = folder.RegistriesConf,
            ["STORAGE_DRIVER"] = options.StorageDriver,
            ["BUILDAH_ISOLATION"] = options.Isolation,
            // Image copies are staged in TMPDIR (/var/tmp by default); keep them in the work directory.
            ["TMPDIR"] = options.TempDirectory,
        };
        return StreamedProcess.RunAsync(options.BuildahPath, global.Concat(arguments), environment, onLine, cancellationToken);
    }
}
