using Wave.Api.Containers;
using Wave.Core.Builds;
using Wave.Core.Builds.Templates;
using Wave.Core.Identity;
using Wave.Core.Metrics;
using Wave.Core.Persistence;
using Wave.Core.RateLimits;
using Wave.Core.Registry;

namespace Wave.Api.Builds;

/// <summary>
/// What a build request led to: the build that makes the image (null when the image was found already pushed with
/// no build of ours on record), the name it is pushed under, whether the image is there already (<see cref="Cached"/>:
/// false whenever the client must wait, for a new build and for one already running alike), whether it is ready
/// (<see cref="Succeeded"/>: true when cached, null while a build runs), and the pushed digest when it is known now.
/// </summary>
public sealed record BuildTrack(string? BuildId, string TargetImage, bool Cached, string? Digest, bool? Succeeded)
{
    /// <summary>True when this request recorded and queued the build (false: it joined one, or found the image).</summary>
    public bool Started { get; init; }

    /// <summary>A build the client waits for: queued now by this request (<paramref name="started"/>) or already running.</summary>
    public static BuildTrack Pending(string buildId, string targetImage, bool started = false) =>
        new(buildId, targetImage, Cached: false, Digest: null, Succeeded: null) { Started = started };

    /// <summary>The image is in the registry: nothing to wait for.</summary>
    public static BuildTrack Ready(string? buildId, string targetImage, string digest) => new(buildId, targetImage, Cached: true, digest, Succeeded: true);
}

/// <summary>
/// Starts each build once per content: the latest build of the container id is looked up first (a running one is
/// joined), then the registry (an image already pushed is not built again), and only then is a new attempt recorded
/// and queued. The record's insert is the arbiter between concurrent identical requests, in this process or another:
/// exactly one inserts <c>bd-&lt;id&gt;_N</c> and queues it, the others join that build.
/// </summary>
public sealed class BuildService(
    IBuildStore store,
    IBuildQueue queue,
    RegistryClient registry,
    RateLimiter limits,
    UsageMetrics metrics,
    TimeProvider time,
    ILogger<BuildService> logger)
{
    public async Task<BuildTrack> SubmitAsync(BuildPlan plan, WaveUser? user, string? requestIp, CancellationToken cancellationToken)
    {
        var latest = await store.FindLatestByContainerIdAsync(plan.ContainerId, cancellationToken);
        if (latest is { Status: not BuildStatus.Completed })
        {
            // Joining a build that is still running: the image does not exist yet, so the client must wait for it
            // (cached: false). Answering cached: true here made clients pull a tag that was not pushed yet.
            return BuildTrack.Pending(latest.BuildId, plan.TargetImage);
        }
        if (await FindPushedAsync(plan, cancellationToken) is { } digest)
        {
            return BuildTrack.Ready(latest is { Succeeded: true } ? latest.BuildId : null, plan.TargetImage, digest);
        }

        var decision = await limits.AcquireAsync(RateLimitedAction.Build, user, requestIp, cancellationToken);
        if (!decision.Allowed)
        {
            throw new ApiException(StatusCodes.Status429TooManyRequests, decision.Message) { RetryAfter = decision.RetryAfter };
        }
        var attempt = (latest?.Attempt ?? 0) + 1;
        var job = plan.ToJob(attempt, time.GetUtcNow());
        plan.ContextFiles.TryGetValue(CondaTemplate.EnvironmentFileName, out var condaFile);
        plan.ContextFiles.TryGetValue(SpackTemplate.EnvironmentFileName, out var spackFile);
        var record = BuildRecord.Pending(job, attempt, condaFile, spackFile, user?.UserName, user?.Email, requestIp, user?.Id);
        if (!await store.CreateAsync(record, cancellationToken))
        {
            // Another request (here or in another Api instance) recorded this attempt first: join its build, and wait.
            return BuildTrack.Pending(job.BuildId, plan.TargetImage);
        }
        await store.SaveJobAsync(job, cancellationToken);
        try
        {
            await queue.PublishAsync(job, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var reason = $"could not be queued: {e.Message}";
            await store.TryCompleteAsync(job.BuildId, new BuildOutcome(false, null, null, reason, TimeSpan.Zero), time.GetUtcNow(), CancellationToken.None);
            logger.LogError(e, "Build {BuildId} could not be queued", job.BuildId);
            throw new ApiException(StatusCodes.Status503ServiceUnavailable, $"the build queue is unavailable, try again shortly: build {job.BuildId} {reason}");
        }
        logger.LogInformation("Build {BuildId} of {TargetImage} ({Platform}) queued for {User}", job.BuildId, plan.TargetImage, job.Platform, user?.UserName ?? "anonymous");
        await metrics.RecordAsync(UsageMetric.Builds, WaveUser.OrganizationOf(user), plan.Platform.Architecture, cancellationToken);
        return BuildTrack.Pending(job.BuildId, plan.TargetImage, started: true);
    }

    /// <summary>
    /// A dry run: what <see cref="SubmitAsync"/> would answer, with nothing built, queued, recorded or counted. The
    /// build id is attempt 0 (<c>bd-&lt;containerId&gt;_0</c>), as the Wave server answers a dry run; cached says
    /// whether the image is in the registry already.
    /// </summary>
    public async Task<BuildTrack> PreviewAsync(BuildPlan plan, CancellationToken cancellationToken)
    {
        var digest = await FindPushedAsync(plan, cancellationToken);
        return new BuildTrack(DryRunBuildId(plan.ContainerId), plan.TargetImage, Cached: digest is not null, digest, Succeeded: true);
    }

    /// <summary>The build id a dry run answers: attempt 0, which no real build has.</summary>
    public static string DryRunBuildId(string containerId) => $"{BuildId.Prefix}{containerId}_0";

    /// <summary>
    /// The digest of the target tag when it is already in the registry, else null. The plan's target is the plain name
    /// (no <c>oras://</c>), so for a SIF this is the HEAD of the ORAS artifact's tag, which exists only once the SIF was
    /// pushed (the intermediate container image has its own tag, <c>&lt;tag&gt;-docker</c>).
    /// </summary>
    private async Task<string?> FindPushedAsync(BuildPlan plan, CancellationToken cancellationToken)
    {
        var target = Core.Names.ImageReference.Parse(plan.TargetImage);
        try
        {
            return (await registry.HeadManifestAsync(target.Registry, target.Repository, target.Reference, cancellationToken)).Digest;
        }
        catch (RegistryException e) when (e.Kind == RegistryErrorKind.NotFound)
        {
            return null;
        }
        catch (RegistryException e) when (e.Kind == RegistryErrorKind.Unauthorized)
        {
            throw ApiException.BadRequest("buildRepository", $"'{plan.BuildRepository}' cannot be accessed with Wave's credentials: {e.Message}");
        }
        catch (RegistryException e)
        {
            throw ApiException.Upstream(e, $"checking whether {plan.TargetImage} was already built");
        }
    }
}
