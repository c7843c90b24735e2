using Wave.Core.Builds;
using Wave.Core.Builds.Singularity;
using Wave.Core.Names;
using Wave.Core.Registry;

namespace Wave.Builder.Sif;

/// <summary>
/// Adds <c>format: sif</c> to any build backend. A SIF job runs in two steps: the backend builds the Dockerfile as
/// usual and pushes the container image to an intermediate tag, <c>&lt;tag&gt;-docker</c> in the same repository; then
/// <see cref="SifImageBuilder"/> converts that image (pinned by the digest the backend reported) into a SIF and pushes
/// it as an ORAS artifact under the job's own tag. The outcome's image digest is the ORAS manifest's. Other jobs go to
/// the backend unchanged.
/// </summary>
/// <remarks>
/// The conversion runs in the builder process (it needs <c>mksquashfs</c> there), whichever backend built the image.
/// The intermediate tag stays in the repository: it is an ordinary image of the same content, and a registry may not
/// allow deleting tags.
/// </remarks>
public sealed class SifBuildBackend(IBuildBackend inner, SifImageBuilder sif, TimeProvider time, ILogger<SifBuildBackend> logger) : IBuildBackend
{
    public const string IntermediateTagSuffix = "-docker";

    public async Task<BuildOutcome> RunAsync(BuildJob job, IReadOnlyDictionary<string, RegistryCredentials> pushCredentials, IBuildLogSink log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(log);
        if (!string.Equals(job.Format, BuildPlanner.SifFormat, StringComparison.OrdinalIgnoreCase))
        {
            return await inner.RunAsync(job, pushCredentials, log, cancellationToken);
        }

        var started = time.GetTimestamp();
        BuildOutcome Failed(string reason, int? exitCode = null) => new(false, exitCode, null, reason, time.GetElapsedTime(started));
        ValueTask NoteAsync(string text) => log.AppendAsync("[wave] " + text + "\n", cancellationToken);

        if (!ImageReference.TryParse(job.TargetImage, out var target, out var targetError) || target.Digest is not null || target.Tag is null)
        {
            var reason = $"invalid SIF target '{job.TargetImage}': {targetError ?? "it must name a tag"}";
            await NoteAsync(reason);
            return Failed(reason);
        }
        if (!ContainerPlatform.TryParse(job.Platform, out var platform, out var platformError))
        {
            var reason = $"unsupported platform '{job.Platform}': {platformError}";
            await NoteAsync(reason);
            return Failed(reason);
        }

        var intermediate = IntermediateImage(target);
        await NoteAsync($"SIF build, step 1 of 2: building the container image {intermediate}");
        var image = await inner.RunAsync(job with { TargetImage = intermediate, Format = BuildPlanner.DockerFormat }, pushCredentials, log, cancellationToken);
        if (!image.Succeeded)
        {
            return image with { Duration = time.GetElapsedTime(started) };
        }
        if (image.ImageDigest is null)
        {
            const string reason = "the build backend did not report the digest of the container image";
            await NoteAsync(reason);
            return Failed(reason);
        }

        var source = $"{target.Registry}/{target.Repository}@{image.ImageDigest}";
        var location = BuildPlan.SifOrasPrefix + job.TargetImage;
        var remaining = job.Timeout - time.GetElapsedTime(started);
        if (remaining <= TimeSpan.Zero)
        {
            await NoteAsync($"build timed out after {job.Timeout.TotalSeconds:0} s, before the SIF conversion");
            return Failed("timed out");
        }
        using var timeout = new CancellationTokenSource(remaining, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        job.ContextFiles.TryGetValue(SingularityDockerfile.DefinitionFile, out var definition);
        await NoteAsync($"SIF build, step 2 of 2: converting {source} ({platform}) to a SIF (flatten layers, mksquashfs) and pushing it to {location}");
        try
        {
            var pushed = await sif.BuildAndPushAsync(source, job.TargetImage, definition, platform, pushCredentials, linked.Token);
            await NoteAsync($"pushed {pushed.Location}@{pushed.ManifestDigest} (SIF {pushed.SifDigest}, {pushed.SifSize} bytes)");
            logger.LogInformation("Build {BuildId}: SIF {SifDigest} ({SifSize} bytes) pushed to {Location}@{ManifestDigest}",
                job.BuildId, pushed.SifDigest, pushed.SifSize, pushed.Location, pushed.ManifestDigest);
            return new BuildOutcome(true, 0, pushed.ManifestDigest, null, time.GetElapsedTime(started));
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            await NoteAsync($"build timed out after {job.Timeout.TotalSeconds:0} s, during the SIF conversion");
            return Failed("timed out");
        }
        catch (Exception e) when (e is SifBuildException or RegistryException or InvalidBuildRequestException or InvalidImageReferenceException or IOException or UnauthorizedAccessException)
        {
            var reason = $"SIF conversion failed: {e.Message}";
            await NoteAsync(reason);
            logger.LogWarning(e, "Build {BuildId}: SIF conversion of {Source} failed", job.BuildId, source);
            return Failed(reason);
        }
    }

    /// <summary><c>registry/repository:&lt;tag&gt;-docker</c>, the tag cut so that it stays within 128 characters.</summary>
    public static string IntermediateImage(ImageReference target)
    {
        var tag = target.Tag ?? "latest";
        var room = ImageReference.TagLengthMax - IntermediateTagSuffix.Length;
        return $"{target.Registry}/{target.Repository}:{(tag.Length > room ? tag[..room] : tag)}{IntermediateTagSuffix}";
    }
}
