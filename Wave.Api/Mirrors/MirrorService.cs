using Microsoft.Extensions.Options;

using Wave.Api.Containers;
using Wave.Api.Identity;
using Wave.Api.Records;
using Wave.Core.Identity;
using Wave.Core.Metrics;
using Wave.Core.Mirrors;
using Wave.Core.Names;
using Wave.Core.Persistence;
using Wave.Core.Registry;
using Wave.Core.Requests;
using Wave.Core.Scans;
using Wave.Core.Security;

namespace Wave.Api.Mirrors;

/// <summary>
/// Answers a mirror request (<c>mirror: true</c> + <c>buildRepository</c>) and starts its copy once per content: the
/// source is resolved to a digest with the request's registry logins (the user's from Seqera Platform first, Wave's
/// configured ones otherwise) and the target is looked at. When the target's tag already has the source's digest the
/// answer is ready (<c>cached</c>, <c>succeeded</c>); when a copy of that digest to that name runs, the request joins
/// it; otherwise a new attempt is recorded and queued for the builders. The record's insert decides between
/// concurrent identical requests, here or in another Api process: one queues the copy, the others join it. The answer
/// is the durable target name, never a token: the image is pulled from the target registry itself.
/// </summary>
public sealed class MirrorService(
    RegistryClient registry,
    IRegistryCredentialsProvider configuredCredentials,
    PlatformCredentialsClient platformCredentials,
    CredentialSealer sealer,
    IMirrorStore store,
    IBuildQueue queue,
    ContainerRecorder recorder,
    NetworkTargetPolicy policy,
    UsageMetrics metrics,
    IOptions<ContainerRequestOptions> requestOptions,
    IOptions<MirrorOptions> mirrorOptions,
    IOptions<Core.Builds.BuildOptions> buildOptions,
    ContainerScanService scans,
    TimeProvider time,
    ILogger<MirrorService> logger)
{
    /// <summary>What the request led to: the mirror that makes the image (null when the target had it with no copy of ours on record).</summary>
    private sealed record MirrorTrack(string? MirrorId, bool Cached, bool? Succeeded, bool Started);

    public async Task<ContainerSubmission> SubmitAsync(ValidatedContainerRequest request, ImageReference target, WaveUser? user, string? requestIp,
        CancellationToken cancellationToken)
    {
        var source = request.Image;
        await CheckRegistryAsync(source.Registry, "containerImage", cancellationToken);
        await CheckRegistryAsync(target.Registry, "buildRepository", cancellationToken);
        // The user's own logins from Seqera Platform win over Wave's configured ones, for either registry.
        var access = request.PlatformAccess;
        var sourceLogin = access is null ? null : await platformCredentials.FindAsync(access, source.Registry, cancellationToken);
        var targetLogin = access is null ? null : await platformCredentials.FindAsync(access, target.Registry, cancellationToken);
        if (targetLogin is null && buildOptions.Value.PushRegistries is { Count: > 0 } pushRegistries
            && !pushRegistries.Any(host => RegistryAddress.SameRegistry(host, target.Registry)))
        {
            // Without a login of the user's, the copy would push with Wave's own: only where its builds may push too.
            throw ApiException.BadRequest("buildRepository",
                $"'{target.Name}' is on registry '{target.Registry}', where this Wave service cannot push with its own login (it can push to: " +
                $"{string.Join(", ", pushRegistries)}); keep a login for that registry on Seqera Platform");
        }
        IRegistryCredentialsProvider logins = configuredCredentials;
        if (sourceLogin is not null)
        {
            logins = new SingleRegistryCredentials(source.Registry, sourceLogin, logins);
        }
        if (targetLogin is not null)
        {
            logins = new SingleRegistryCredentials(target.Registry, targetLogin, logins);
        }
        var client = registry.WithCredentials(logins);

        var sourceDigest = await ResolveSourceAsync(client, source, cancellationToken);
        var targetDigest = await TargetDigestAsync(client, target, cancellationToken);
        var targetName = target.ToString();
        var contentId = MirrorId.ContentId(sourceDigest, targetName);
        var now = time.GetUtcNow();
        if (request.DryRun)
        {
            return Answer(ContainerTokens.New(), targetName, new MirrorTrack(MirrorId.DryRun(contentId), targetDigest == sourceDigest, true, false), dryRun: true);
        }

        var latest = await store.FindLatestByContentIdAsync(contentId, cancellationToken);
        MirrorTrack track;
        if (targetDigest == sourceDigest)
        {
            // The tag is written last, so a target tag with the source's digest is a finished copy (ours or anyone's).
            track = new MirrorTrack(latest is { Succeeded: true } ? latest.MirrorId : null, Cached: true, Succeeded: true, Started: false);
        }
        else if (latest is { Completed: false })
        {
            // Joining a copy that runs: the target is not there yet, the client waits (cached false), as for builds.
            track = new MirrorTrack(latest.MirrorId, Cached: false, Succeeded: null, Started: false);
        }
        else
        {
            track = await StartAsync(request, source, sourceDigest, targetName, contentId, (latest?.Attempt ?? 0) + 1, sourceLogin, targetLogin, user, requestIp, now,
                cancellationToken);
        }

        var requestId = ContainerTokens.New();
        // The mirror has the source's bytes under the source's digests: scanning the source by digest is scanning the
        // mirror, and needs no wait for the copy. The container status holds a required scan's verdict back until both
        // the copy and the scan are done.
        var scanMode = request.ScanMode ?? ScanMode.None;
        var scanId = scanMode == ScanMode.None ? null : await scans.StartScanAsync(
            new ScanSubject(source with { Digest = sourceDigest }, request.Platform ?? ContainerPlatform.LinuxAmd64, logins,
                new ScanOrigin(MirrorId: track.MirrorId, RequestId: requestId)), scanMode, cancellationToken);
        var containerRequest = new ContainerRequest
        {
            Token = requestId,
            SourceImage = source.ToString(),
            SourceDigest = sourceDigest,
            BuildId = track.MirrorId,
            Platform = request.Platform?.ToString(),
            TargetImage = targetName,
            CreatedAt = now,
            ExpiresAt = now + requestOptions.Value.Tokens.TimeToLive,
            RequestIp = requestIp,
            User = user,
        };
        var credentialsSource = sourceLogin is not null || targetLogin is not null ? "platform"
            : await configuredCredentials.GetAsync(source.Registry, cancellationToken) is not null
              || await configuredCredentials.GetAsync(target.Registry, cancellationToken) is not null ? "configuration" : null;
        // Recorded only: a mirror has no token entry, so nothing can be pulled through its request id.
        await recorder.RecordAsync(containerRequest, request.PlatformAccess, credentialsSource,
            new RecordDetails(track.MirrorId, Freeze: false, Mirror: true, BuildNew: track.MirrorId is null ? null : track.Started, scanId, request.Fingerprint,
                scanId is null ? null : scanMode.ToWire(), scanId is null ? null : request.ScanLevels),
            cancellationToken);
        logger.LogInformation("Mirror request {RequestId} of {SourceImage}@{SourceDigest} to {TargetImage} from {User}: mirror {MirrorId} (started: {Started}, cached: {Cached})",
            requestId, source, sourceDigest, targetName, user?.UserName ?? "anonymous", track.MirrorId, track.Started, track.Cached);
        return Answer(requestId, targetName, track, dryRun: false) with { ScanId = scanId };
    }

    private async Task<MirrorTrack> StartAsync(ValidatedContainerRequest request, ImageReference source, string sourceDigest, string targetName, string contentId,
        int attempt, RegistryCredentials? sourceLogin, RegistryCredentials? targetLogin, WaveUser? user, string? requestIp, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var mirrorId = MirrorId.Format(contentId, attempt);
        var target = ImageReference.Parse(targetName);
        var job = new MirrorJob
        {
            MirrorId = mirrorId,
            ContentId = contentId,
            SourceImage = source.ToString(),
            SourceDigest = sourceDigest,
            TargetImage = targetName,
            // Sealed to this mirror id: the builder that copies opens them; the queue and the store only ever hold ciphertext.
            SourceCredentials = sourceLogin is null ? null : await sealer.SealAsync(mirrorId, source.Registry, sourceLogin, cancellationToken),
            TargetCredentials = targetLogin is null ? null : await sealer.SealAsync(mirrorId, target.Registry, targetLogin, cancellationToken),
            CreatedAt = now,
            Timeout = mirrorOptions.Value.Timeout,
        };
        var record = new MirrorRecord
        {
            MirrorId = mirrorId,
            ContentId = contentId,
            SourceImage = source.ToString(),
            SourceDigest = sourceDigest,
            TargetImage = targetName,
            Platform = request.Platform?.ToString(),
            UserId = user?.Id,
            UserName = user?.UserName,
            UserEmail = user?.Email,
            RequestIp = requestIp,
            OffsetId = request.OffsetId,
            CreatedAt = now,
            Attempt = attempt,
        };
        if (!await store.CreateAsync(record, job, cancellationToken))
        {
            // Another request (here or in another Api process) recorded this attempt first: join its copy.
            return new MirrorTrack(mirrorId, Cached: false, Succeeded: null, Started: false);
        }
        try
        {
            await queue.PublishAsync(job.ToQueuedJob(), cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var reason = $"could not be queued: {e.Message}";
            await store.TryCompleteAsync(mirrorId, null, new MirrorOutcome(false, null, reason, TimeSpan.Zero, MirrorCounts.None), time.GetUtcNow(), CancellationToken.None);
            logger.LogError(e, "Mirror {MirrorId} could not be queued", mirrorId);
            throw new ApiException(StatusCodes.Status503ServiceUnavailable, $"the build queue is unavailable, try again shortly: mirror {mirrorId} {reason}");
        }
        await metrics.RecordAsync(UsageMetric.Mirrors, WaveUser.OrganizationOf(user), request.Platform?.Architecture, cancellationToken);
        return new MirrorTrack(mirrorId, Cached: false, Succeeded: null, Started: true);
    }

    private static ContainerSubmission Answer(string requestId, string targetName, MirrorTrack track, bool dryRun) => new()
    {
        RequestId = requestId,
        TargetImage = targetName,
        ContainerImage = targetName,
        BuildId = track.MirrorId,
        Cached = track.Cached,
        Mirror = true,
        Succeeded = track.Succeeded,
        DryRun = dryRun,
        BuildNew = track.Started,
    };

    private static async Task<string> ResolveSourceAsync(RegistryClient client, ImageReference source, CancellationToken cancellationToken)
    {
        try
        {
            return (await client.GetManifestAsync(source.Registry, source.Repository, source.Reference, cancellationToken)).Digest;
        }
        catch (RegistryException e) when (e.Kind == RegistryErrorKind.NotFound)
        {
            throw ApiException.BadRequest("containerImage", $"'{source}' was not found: {e.Message}");
        }
        catch (RegistryException e) when (e.Kind == RegistryErrorKind.Unauthorized)
        {
            throw ApiException.BadRequest("containerImage", $"'{source}' cannot be accessed: {e.Message}");
        }
        catch (RegistryException e)
        {
            throw ApiException.Upstream(e, $"resolving '{source}'");
        }
    }

    /// <summary>The digest the target's tag has now, null when it has none; the user must be able to read it (and so, normally, to push).</summary>
    private static async Task<string?> TargetDigestAsync(RegistryClient client, ImageReference target, CancellationToken cancellationToken)
    {
        try
        {
            return (await client.HeadManifestAsync(target.Registry, target.Repository, target.Reference, cancellationToken)).Digest;
        }
        catch (RegistryException e) when (e.Kind == RegistryErrorKind.NotFound)
        {
            return null;
        }
        catch (RegistryException e) when (e.Kind == RegistryErrorKind.Unauthorized)
        {
            throw ApiException.BadRequest("buildRepository", $"'{target.Name}' cannot be accessed with the request's registry login (from Seqera Platform, else Wave's configured one): {e.Message}");
        }
        catch (RegistryException e)
        {
            throw ApiException.Upstream(e, $"checking whether {target} is mirrored already");
        }
    }

    private async Task CheckRegistryAsync(string registryName, string field, CancellationToken cancellationToken)
    {
        Uri api;
        try
        {
            api = registry.BaseUri(registryName);
        }
        catch (UriFormatException)
        {
            throw ApiException.BadRequest(field, $"'{registryName}' is not a registry host name");
        }
        if (await policy.CheckAsync(api, cancellationToken, registryName) is { } refusal)
        {
            throw ApiException.BadRequest(field, $"registry '{registryName}' {refusal}");
        }
    }
}
