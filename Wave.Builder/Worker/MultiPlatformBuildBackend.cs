using System.Text;

using Wave.Core.Builds;
using Wave.Core.Names;
using Wave.Core.Registry;

namespace Wave.Builder.Worker;

/// <summary>
/// Runs a multi-platform job (<c>linux/amd64,linux/arm64</c>) as one build per platform on the backend it wraps, each
/// pushed to <c>TAG-linux-amd64</c> / <c>TAG-linux-arm64</c> (<see cref="MultiPlatformIndex.PlatformTarget"/>), then
/// pushes the image index of the two under the build's tag. Single-platform jobs pass straight through.
/// </summary>
/// <remarks>
/// Per platform, as the reference server does it: the local backend builds arm64 under qemu emulation, the Kubernetes
/// backend runs each platform's Job with that architecture's node selector. The platforms build at the same time;
/// their log lines are prefixed with the platform. The index is pushed only when both succeeded, so a failed or
/// interrupted build never leaves the tag behind (and a later request does not take a half-built image as cached). The
/// outcome's digest is the index's.
/// </remarks>
public sealed class MultiPlatformBuildBackend(IBuildBackend inner, RegistryClient registry, IRegistryCredentialsProvider configured, TimeProvider time, ILogger<MultiPlatformBuildBackend> logger) : IBuildBackend
{
    public async Task<BuildOutcome> RunAsync(BuildJob job, IReadOnlyDictionary<string, RegistryCredentials> pushCredentials, IBuildLogSink log, CancellationToken cancellationToken)
    {
        var platformNames = job.Platforms;
        if (platformNames.Count <= 1)
        {
            return await inner.RunAsync(job, pushCredentials, log, cancellationToken);
        }
        var started = time.GetTimestamp();
        BuildOutcome Failed(string reason, int? exitCode = null) => new(false, exitCode, null, reason, time.GetElapsedTime(started));

        var platforms = new List<ContainerPlatform>();
        foreach (var name in platformNames)
        {
            if (!ContainerPlatform.TryParse(name, out var parsed, out var error))
            {
                await log.AppendAsync($"[wave] {error}\n", cancellationToken);
                return Failed(error);
            }
            platforms.Add(parsed);
        }
        if (!string.Equals(job.Format, BuildPlanner.DockerFormat, StringComparison.OrdinalIgnoreCase))
        {
            var reason = $"a {job.Format} image holds one platform, not {job.Platform}";
            await log.AppendAsync($"[wave] {reason}\n", cancellationToken);
            return Failed(reason);
        }

        await log.AppendAsync($"[wave] building {string.Join(" and ", platformNames)} at once; each platform is pushed to "
            + $"{MultiPlatformIndex.PlatformTarget(job.TargetImage, "<platform>")}, then their index to {job.TargetImage}\n", cancellationToken);
        var runs = platforms.Select(platform => RunPlatformAsync(job, platform, pushCredentials, log, cancellationToken)).ToList();
        var outcomes = await Task.WhenAll(runs);

        var failures = outcomes.Where(o => !o.Outcome.Succeeded).ToList();
        if (failures.Count > 0)
        {
            var reason = string.Join("; ", failures.Select(f => $"{f.Platform}: {f.Outcome.FailureReason}"));
            await log.AppendAsync($"[wave] no index pushed: {reason}\n", cancellationToken);
            return Failed(reason, failures[0].Outcome.ExitCode);
        }

        var reference = ImageReference.Parse(job.TargetImage);
        var client = registry.WithCredentials(new GivenCredentials(pushCredentials, configured));
        try
        {
            var images = new List<PlatformImage>();
            foreach (var (platform, outcome) in outcomes)
            {
                var manifest = await client.GetManifestAsync(reference.Registry, reference.Repository, outcome.ImageDigest!, cancellationToken);
                images.Add(new PlatformImage(platform, manifest.MediaType, manifest.Digest, manifest.Content.LongLength));
            }
            var (index, mediaType) = MultiPlatformIndex.Compose(images);
            var digest = await client.PushManifestAsync(reference.Registry, reference.Repository, reference.Tag ?? "latest", index, mediaType, cancellationToken);
            await log.AppendAsync($"[wave] pushed the index of {string.Join(", ", images.Select(i => $"{i.Platform} {i.Digest}"))}: {job.TargetImage}@{digest}\n", cancellationToken);
            logger.LogInformation("Build {BuildId}: pushed the {Count}-platform index {Target}@{Digest}", job.BuildId, images.Count, job.TargetImage, digest);
            return new BuildOutcome(true, 0, digest, null, time.GetElapsedTime(started));
        }
        catch (RegistryException e)
        {
            var reason = $"push of the image index {job.TargetImage} failed: {e.Message}";
            await log.AppendAsync($"[wave] {reason}\n", cancellationToken);
            return Failed(reason);
        }
    }

    private async Task<(ContainerPlatform Platform, BuildOutcome Outcome)> RunPlatformAsync(BuildJob job, ContainerPlatform platform, IReadOnlyDictionary<string, RegistryCredentials> pushCredentials, IBuildLogSink log, CancellationToken cancellationToken)
    {
        var name = platform.ToString();
        var platformJob = job with { Platform = name, TargetImage = MultiPlatformIndex.PlatformTarget(job.TargetImage, name) };
        var outcome = await inner.RunAsync(platformJob, pushCredentials, new PrefixedLog(log, $"[{name}] "), cancellationToken);
        return (platform, outcome);
    }

    /// <summary>Prefixes every line one platform's build writes, so that the two builds' lines can be told apart.</summary>
    private sealed class PrefixedLog(IBuildLogSink sink, string prefix) : IBuildLogSink
    {
        private readonly Lock _gate = new();
        private bool _atLineStart = true;

        public ValueTask AppendAsync(string text, CancellationToken cancellationToken)
        {
            var prefixed = new StringBuilder(text.Length + prefix.Length);
            lock (_gate)
            {
                foreach (var c in text)
                {
                    if (_atLineStart)
                    {
                        prefixed.Append(prefix);
                    }
                    prefixed.Append(c);
                    _atLineStart = c == '\n';
                }
            }
            return sink.AppendAsync(prefixed.ToString(), cancellationToken);
        }
    }

    /// <summary>The job's push credentials for a host, else what the registry client is configured with.</summary>
    private sealed class GivenCredentials(IReadOnlyDictionary<string, RegistryCredentials> given, IRegistryCredentialsProvider fallback) : IRegistryCredentialsProvider
    {
        public ValueTask<RegistryCredentials?> GetAsync(string registryHost, CancellationToken cancellationToken = default)
        {
            foreach (var (host, login) in given)
            {
                if (RegistryAddress.SameRegistry(host, registryHost))
                {
                    return ValueTask.FromResult<RegistryCredentials?>(login);
                }
            }
            return fallback.GetAsync(registryHost, cancellationToken);
        }
    }
}
