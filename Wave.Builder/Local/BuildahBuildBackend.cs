using System.Security.Cryptography;
using System.Text;

using Microsoft.Extensions.Options;

using Wave.Core.Builds;
using Wave.Core.Registry;

namespace Wave.Builder.Local;

/// <summary>
/// Builds on this machine with buildah: daemonless, vfs storage, chroot isolation, foreign architectures through
/// qemu binfmt. Each build gets a private folder (Dockerfile, context files, registries.conf, auth.json) that is
/// removed afterwards; buildah's storage is kept, so <c>--layers</c> reuses steps across builds.
/// </summary>
/// <remarks>
/// When a job names a cache repository, buildah 1.28's <c>--cache-from</c>/<c>--cache-to</c> use it as a registry
/// layer cache: each RUN/COPY step's layer is looked up there before it is built and pushed there after.
/// </remarks>
public sealed class BuildahBuildBackend : IBuildBackend
{
    public const string TimedOut = "timed out";

    private readonly LocalBuildOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ForeignArchitectureEmulation _emulation;
    private readonly Lock _gate = new();
    private int _running;
    private bool _storageMayHoldOrphans = true; // a previous builder process may have been killed mid-build
    private readonly List<(string Store, string Image)> _builtImages = []; // removed once no build runs, see RemoveOrphanedContainersAsync

    public BuildahBuildBackend(LocalBuildOptions options, TimeProvider timeProvider, ILogger<BuildahBuildBackend> logger)
    {
        _options = options;
        _time = timeProvider;
        _logger = logger;
        _emulation = new ForeignArchitectureEmulation(options.BinfmtDirectory, logger);
    }

    [ActivatorUtilitiesConstructor]
    public BuildahBuildBackend(IOptions<LocalBuildOptions> options, ILogger<BuildahBuildBackend> logger, TimeProvider? timeProvider = null)
        : this(options.Value, timeProvider ?? TimeProvider.System, logger)
    {
    }

    public async Task<BuildOutcome> RunAsync(BuildJob job, IReadOnlyDictionary<string, RegistryCredentials> pushCredentials, IBuildLogSink log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(pushCredentials);
        ArgumentNullException.ThrowIfNull(log);
        var started = _time.GetTimestamp();
        BuildOutcome Outcome(bool succeeded, int? exitCode, string? digest, string? reason) =>
            new(succeeded, exitCode, digest, reason, _time.GetElapsedTime(started));

        var output = new BuildLog(log, pushCredentials.Values, cancellationToken);
        using var timeout = new CancellationTokenSource(job.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);

        var invalid = Validate(job);
        if (invalid is not null)
        {
            await output.NoteAsync(invalid);
            return Outcome(false, null, null, invalid);
        }
        var architecture = job.Platform.Split('/')[1];
        var folder = BuildFolder.Create(_options.ResolvedContextDirectory, job.BuildId);
        var localImage = LocalImageName(job.BuildId);
        var imageBuilt = false;
        var killed = false;
        lock (_gate)
        {
            _running++;
        }
        try
        {
            var emulationProblem = await _emulation.EnsureAsync(architecture, linked.Token);
            if (emulationProblem is not null)
            {
                await output.NoteAsync(emulationProblem);
                return Outcome(false, null, null, emulationProblem);
            }

            var insecure = RegistryAccess.InsecureRegistries(_options.InsecureRegistries, RegistriesOf(job));
            try
            {
                await folder.WriteAsync(job, RegistryAccess.RegistriesConf(insecure), RegistryAccess.AuthJson(pushCredentials), linked.Token);
            }
            catch (InvalidDataException e)
            {
                await output.NoteAsync(e.Message);
                return Outcome(false, null, null, e.Message);
            }
            var buildah = new BuildahCommand(_options, folder, LocalBuildOptions.StoreKey(job.Platform));

            var budExit = await buildah.RunAsync(BuildahCommand.BudArguments(job, folder, localImage, _options), output.WriteLineAsync, linked.Token);
            if (budExit != 0)
            {
                await output.NoteAsync($"build failed with exit code {budExit}");
                return Outcome(false, budExit, null, $"exit code {budExit}");
            }
            imageBuilt = true;

            var target = RegistryAccess.RegistryOf(job.TargetImage)!;
            var tlsVerify = !RegistryAccess.IsInsecure(target, insecure);
            output.StartCapturingLastLine();
            var pushExit = await buildah.RunAsync(BuildahCommand.PushArguments(job, folder, localImage, tlsVerify), output.WriteLineAsync, linked.Token);
            if (pushExit != 0)
            {
                var reason = $"push of {job.TargetImage} failed with exit code {pushExit}" + (output.LastLine is { } last ? ": " + last : "");
                await output.NoteAsync(reason);
                return Outcome(false, pushExit, null, reason);
            }
            var digest = folder.ReadDigest();
            if (digest is null)
            {
                const string noDigest = "push did not report the image digest";
                await output.NoteAsync(noDigest);
                return Outcome(false, pushExit, null, noDigest);
            }
            await output.NoteAsync($"pushed {job.TargetImage}@{digest}");
            return Outcome(true, 0, digest, null);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            killed = true;
            await output.NoteAsync($"build {TimedOut} after {job.Timeout.TotalSeconds:0} s");
            return Outcome(false, null, null, TimedOut);
        }
        catch (OperationCanceledException)
        {
            killed = true;
            throw;
        }
        catch (CommandStartException e)
        {
            // A builder without buildah fails every build the same way; say so rather than retry the job forever.
            await output.NoteAsync(e.Message);
            return Outcome(false, null, null, e.Message);
        }
        finally
        {
            await RemoveOrphanedContainersAsync(folder, killed, imageBuilt ? (LocalBuildOptions.StoreKey(job.Platform), localImage) : null);
            folder.Delete(_logger);
        }
    }

    private static string? Validate(BuildJob job)
    {
        if (!string.Equals(job.Format, "docker", StringComparison.OrdinalIgnoreCase))
        {
            return $"the local build backend builds container images only, not format '{job.Format}'";
        }
        if (job.Platforms.Count > 1)
        {
            return $"the local build backend builds one platform per run, not '{job.Platform}' (a multi-platform job is split by MultiPlatformBuildBackend)";
        }
        var platform = job.Platform.Split('/');
        if (platform.Length is < 2 or > 3 || platform[0] != "linux" || platform[1].Length == 0)
        {
            return $"unsupported platform '{job.Platform}'";
        }
        if (RegistryAccess.RegistryOf(job.TargetImage) is null)
        {
            return $"invalid target image '{job.TargetImage}'";
        }
        if (job.CacheRepository is not null && RegistryAccess.RegistryOf(job.CacheRepository) is null)
        {
            return $"invalid cache repository '{job.CacheRepository}'";
        }
        if (job.RemoteLayers.Count > 0)
        {
            return $"the remote layer {job.RemoteLayers[0].Location} has not been fetched into the build context";
        }
        if (job.RemoteFiles.Count > 0)
        {
            return $"the context file {job.RemoteFiles[0].Path} ({job.RemoteFiles[0].Location}) has not been fetched into the build context";
        }
        if (job.BuildContext is { Data: null } context)
        {
            return $"the build context {context.Location} has not been fetched";
        }
        if (job.Compression is { } compression && compression.Mode is not (BuildCompression.Gzip or BuildCompression.Zstd))
        {
            return $"buildah 1.28 cannot compress layers with {compression.Mode}";
        }
        return BuildFolder.InvalidContextPath(job.ContextFiles.Keys.Concat(job.BinaryContextFiles.Keys));
    }

    private static IEnumerable<string> RegistriesOf(BuildJob job) =>
        new[] { job.TargetImage, job.CacheRepository }
            .OfType<string>()
            .Concat(RegistryAccess.ImagesOf(job.Dockerfile))
            .Select(RegistryAccess.RegistryOf)
            .OfType<string>();

    /// <summary>A private local name, so that concurrent or repeated builds of one target never share a tag.</summary>
    internal static string LocalImageName(string buildId)
    {
        var tag = new string(buildId.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-' ? c : '-').ToArray());
        tag = tag.Length > 100 ? tag[..100] : tag;
        return $"localhost/wave-build:{tag}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
    }

    /// <summary>
    /// A killed <c>buildah bud</c> leaves its working containers (full root file system copies on vfs) in storage.
    /// They carry nothing that tells which build made them, so they are removed with <c>buildah rm --all</c> once no
    /// build of this backend is running: the storage is private to the backend, so nothing else can lose a container.
    /// The built local images go the same way: removing one while another build of the store runs can delete a layer
    /// that build is about to take from the <c>--layers</c> cache ("getting top layer info: layer not known").
    /// </summary>
    private async Task RemoveOrphanedContainersAsync(BuildFolder folder, bool killed, (string Store, string Image)? built)
    {
        bool clean;
        List<(string Store, string Image)> images = [];
        lock (_gate)
        {
            _storageMayHoldOrphans |= killed;
            _running--;
            if (built is { } image)
            {
                _builtImages.Add(image);
            }
            clean = _running == 0 && _storageMayHoldOrphans;
            if (clean)
            {
                _storageMayHoldOrphans = false;
            }
            if (_running == 0)
            {
                images.AddRange(_builtImages);
                _builtImages.Clear();
            }
        }
        foreach (var (store, image) in images)
        {
            await RunQuietlyAsync(folder, store, ["rmi", image]);
        }
        if (clean)
        {
            foreach (var store in _options.ExistingStoreKeys())
            {
                await RunQuietlyAsync(folder, store, ["rm", "--all"]);
            }
        }
    }

    /// <summary>Housekeeping whose output belongs in the builder's log, not the build's.</summary>
    private async Task RunQuietlyAsync(BuildFolder folder, string storeKey, string[] arguments)
    {
        var command = "buildah " + string.Join(' ', arguments);
        try
        {
            folder.EnsureRegistriesConf(RegistryAccess.RegistriesConf([]));
            using var bounded = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            var exit = await new BuildahCommand(_options, folder, storeKey).RunAsync(arguments, line =>
            {
                _logger.LogDebug("{Command}: {Line}", command, line);
                return ValueTask.CompletedTask;
            }, bounded.Token);
            if (exit != 0)
            {
                _logger.LogWarning("{Command} exited with {ExitCode}", command, exit);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or CommandStartException)
        {
            _logger.LogWarning("{Command} did not finish: {Message}", command, e.Message);
        }
    }

    /// <summary>
    /// The build's log as the sink receives it: ANSI-stripped lines, any credential replaced by <c>***</c> (buildah
    /// does not print them, but a Dockerfile's own output might), and notes of the backend marked <c>[wave]</c>.
    /// </summary>
    private sealed class BuildLog(IBuildLogSink sink, IEnumerable<RegistryCredentials> credentials, CancellationToken cancellationToken)
    {
        // Passwords shorter than this would blank out ordinary words; nothing that short is a real secret anyway.
        private const int MinimumSecretLength = 4;

        private readonly string[] _secrets = credentials
            .SelectMany(c => new[] { c.Password, Convert.ToBase64String(Encoding.UTF8.GetBytes(c.Username + ":" + c.Password)) })
            .Where(s => s.Length >= MinimumSecretLength)
            .Distinct(StringComparer.Ordinal)
            .OrderByDescending(s => s.Length)
            .ToArray();

        private bool _capturing;

        public string? LastLine { get; private set; }

        public void StartCapturingLastLine()
        {
            _capturing = true;
            LastLine = null;
        }

        // The caller's token, not the build's timeout: lines written before a timeout are still kept.
        public ValueTask WriteLineAsync(string line)
        {
            var clean = Redact(AnsiText.Strip(line));
            if (_capturing && !string.IsNullOrWhiteSpace(clean))
            {
                LastLine = clean.Trim();
            }
            return sink.AppendAsync(clean + "\n", cancellationToken);
        }

        public ValueTask NoteAsync(string text) => sink.AppendAsync("[wave] " + Redact(text) + "\n", cancellationToken);

        private string Redact(string text)
        {
            foreach (var secret in _secrets)
            {
                text = text.Replace(secret, "***", StringComparison.Ordinal);
            }
            return text;
        }
    }
}
