using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

using Wave.Api.Builds;
using Wave.Api.Identity;
using Wave.Api.Records;
using Wave.Core.Concurrency;
using Wave.Core.Identity;
using Wave.Core.Manifests;
using Wave.Core.Names;
using Wave.Core.Registry;
using Wave.Core.Requests;
using Wave.Core.Scans;
using Wave.Core.Security;
using Wave.Core.Telemetry;

namespace Wave.Api.Containers;

/// <summary>
/// The answer to a container request, in the Wave API's terms. <see cref="RequestId"/> names the request for the
/// status API: the token of an ephemeral request, an id of its own for a durable one (freeze), which has no token.
/// <see cref="Succeeded"/> is true when the image is ready now, null while a build runs, false when it failed;
/// <see cref="Cached"/> (builds only) is false whenever the client must wait.
/// </summary>
public sealed record ContainerSubmission
{
    public required string RequestId { get; init; }
    public string? Token { get; init; }
    public required string TargetImage { get; init; }
    public DateTimeOffset? Expiration { get; init; }
    public required string ContainerImage { get; init; }
    public string? BuildId { get; init; }
    public bool? Cached { get; init; }
    public bool Freeze { get; init; }
    public bool Mirror { get; init; }
    public string? ScanId { get; init; }
    public bool? Succeeded { get; init; }

    /// <summary>True for a dry run: nothing was issued, built or recorded; the id and token are what it would have been.</summary>
    public bool DryRun { get; init; }

    /// <summary>True when this request started the build (the legacy endpoint names the build only then).</summary>
    public bool BuildNew { get; init; }
}

/// <summary>
/// Turns a validated request into a token: resolves the upstream image with Wave's credentials first (so a missing
/// image or a refused login is an answer now, not a failed pull later), pins its digest, stores the request.
/// Every fetch it makes for the user goes to a host the network policy allows.
/// </summary>
public sealed class ContainerRequestService(
    RegistryClient registry,
    BuildService builds,
    Mirrors.MirrorService mirrors,
    IRegistryCredentialsProvider configuredCredentials,
    PlatformCredentialsClient platformCredentials,
    CredentialSealer sealer,
    ContainerRequestStore store,
    ContainerRecorder recorder,
    TargetImageHost targetHost,
    NetworkTargetPolicy policy,
    ContainerScanService scans,
    IOptions<ContainerRequestOptions> options,
    TimeProvider time,
    ILogger<ContainerRequestService> logger) : IDisposable
{
    // Resolved upstream manifests by image reference, briefly (Wave:Tokens:UpstreamCacheTime); entries count 1 each.
    private readonly MemoryCache _resolved = new(new MemoryCacheOptions { SizeLimit = 10_000 });

    // Requests for one image that arrive while its resolution is in flight share that resolution.
    private readonly SingleFlight<ImageReference, ManifestResponse> _resolving = new();

    public void Dispose() => _resolved.Dispose();

    /// <summary>
    /// A token for the request; for a build, the build is started (or joined) first, and a freeze answers the durable
    /// name alone, without a token, under a request id of its own. A dry run answers the same names and touches nothing.
    /// </summary>
    public async Task<ContainerSubmission> SubmitAsync(ValidatedContainerRequest request, WaveUser? user, string? requestIp, CancellationToken cancellationToken)
    {
        if (request.MirrorTarget is { } mirrorTarget)
        {
            return await mirrors.SubmitAsync(request, mirrorTarget, user, requestIp, cancellationToken);
        }
        if (request.Build is not { } plan)
        {
            return await SubmitAugmentationAsync(request, user, requestIp, cancellationToken);
        }
        await CheckRemoteLayersAsync(plan, cancellationToken);
        var track = request.DryRun
            ? await builds.PreviewAsync(plan, cancellationToken)
            : await builds.SubmitAsync(plan, user, requestIp, cancellationToken);
        var buildNew = track.Started;
        var now = time.GetUtcNow();
        var id = ContainerTokens.New();
        // The built image is scanned once its build succeeded (the scan waits for it); a build asks for an async scan
        // unless the request says otherwise, as the server does. A SIF is not an image a scan can read.
        var (scanId, scanMode) = plan.Format == Core.Builds.BuildPlanner.SifFormat
            ? (null, ScanMode.None)
            : await StartScanAsync(request, request.ScanMode ?? (scans.Enabled ? ScanMode.Async : ScanMode.None), id,
                ImageReference.Parse(track.TargetImage), plan.Platform, null, track.BuildId, cancellationToken);
        var details = new RecordDetails(track.BuildId, plan.Freeze, Mirror: false, BuildNew: track.BuildId is null ? null : buildNew, scanId, request.Fingerprint,
            scanId is null ? null : scanMode.ToWire(), scanId is null ? null : request.ScanLevels);
        if (plan.Freeze)
        {
            // A SIF is answered as oras://registry/repository:tag, the name singularity pull takes.
            var durable = plan.ResultImage;
            if (!request.DryRun)
            {
                var durableRequest = new ContainerRequest
                {
                    Token = id,
                    SourceImage = request.SourceImage ?? durable,
                    SourceDigest = track.Digest,
                    BuildId = track.BuildId,
                    Platform = plan.Platform.ToString(),
                    TargetImage = durable,
                    CreatedAt = now,
                    ExpiresAt = now + options.Value.Tokens.TimeToLive,
                    RequestIp = requestIp,
                    User = user,
                };
                // Recorded only: a durable request has no token entry, so nothing can be pulled through its id.
                await recorder.RecordAsync(durableRequest, request.PlatformAccess, null, details, cancellationToken);
                logger.LogInformation("Freeze request {RequestId} for build {BuildId} of {TargetImage} from {User} (cached: {Cached})",
                    id, track.BuildId, durable, user?.UserName ?? "anonymous", track.Cached);
            }
            return new ContainerSubmission
            {
                RequestId = id,
                TargetImage = durable,
                ContainerImage = durable,
                BuildId = track.BuildId,
                Cached = track.Cached,
                Freeze = true,
                ScanId = scanId,
                Succeeded = track.Succeeded,
                DryRun = request.DryRun,
                BuildNew = buildNew,
            };
        }
        var containerRequest = new ContainerRequest
        {
            Token = id,
            SourceImage = request.Image.ToString(),
            SourceDigest = track.Digest,
            BuildId = track.Digest is null ? track.BuildId : null,
            ContainerConfig = request.Config,
            // A multi-platform build is an index: the token serves it whole, and each client picks its platform.
            Platform = plan.IsMultiPlatform ? null : plan.Platform.ToString(),
            TargetImage = TargetImage(id, request.Image),
            CreatedAt = now,
            ExpiresAt = now + options.Value.Tokens.TimeToLive,
            RequestIp = requestIp,
            User = user,
            ScanId = scanId,
            ScanMode = scanId is null ? null : scanMode.ToWire(),
            ScanLevels = scanId is null ? null : request.ScanLevels,
        };
        if (!request.DryRun)
        {
            await recorder.RecordAsync(containerRequest, request.PlatformAccess,
                await configuredCredentials.GetAsync(request.Image.Registry, cancellationToken) is not null ? "configuration" : null, details, cancellationToken);
            await store.SaveAsync(containerRequest, cancellationToken);
            logger.LogInformation("Issued container token {Token} for build {BuildId} of {SourceImage} to {User} (cached: {Cached})",
                id, track.BuildId, containerRequest.SourceImage, user?.UserName ?? "anonymous", track.Cached);
        }
        return new ContainerSubmission
        {
            RequestId = id,
            Token = request.DryRun ? null : id,
            TargetImage = containerRequest.TargetImage,
            Expiration = request.DryRun ? null : containerRequest.ExpiresAt,
            ContainerImage = track.TargetImage,
            BuildId = track.BuildId,
            Cached = track.Cached,
            ScanId = scanId,
            Succeeded = track.Succeeded,
            DryRun = request.DryRun,
            BuildNew = buildNew,
        };
    }

    private async Task<ContainerSubmission> SubmitAugmentationAsync(ValidatedContainerRequest request, WaveUser? user, string? requestIp, CancellationToken cancellationToken)
    {
        var image = request.Image;
        await CheckRegistryAsync(image.Registry, "containerImage", cancellationToken);
        // A user's own login from Seqera Platform wins over Wave's configured one for that registry.
        var userCredentials = request.PlatformAccess is { } access ? await platformCredentials.FindAsync(access, image.Registry, cancellationToken) : null;
        var upstream = userCredentials is null
            ? await ResolveUpstreamAsync(image, cancellationToken)
            : await FetchUpstreamAsync(registry.WithCredentials(new SingleRegistryCredentials(image.Registry, userCredentials, configuredCredentials)), image, cancellationToken);
        if (request.Platform is not null && MediaTypes.IsIndex(upstream.MediaType))
        {
            RequirePlatform(image, upstream, request.Platform);
        }

        var token = ContainerTokens.New();
        var now = time.GetUtcNow();
        var containerRequest = new ContainerRequest
        {
            Token = token,
            SourceImage = image.ToString(),
            SourceDigest = upstream.Digest,
            SourceMediaType = upstream.MediaType,
            ContainerConfig = request.Config,
            Platform = request.Platform?.ToString(),
            TargetImage = TargetImage(token, image),
            CreatedAt = now,
            ExpiresAt = now + options.Value.Tokens.TimeToLive,
            RequestIp = requestIp,
            User = user,
        };
        if (request.DryRun)
        {
            // The upstream was resolved (a missing image is still an error); no token is issued, nothing recorded.
            return new ContainerSubmission
            {
                RequestId = token,
                TargetImage = containerRequest.TargetImage,
                ContainerImage = containerRequest.SourceImage,
                Succeeded = true,
                DryRun = true,
            };
        }
        // The image scanned is the one the token serves: the upstream pinned by the digest just resolved.
        var (scanId, scanMode) = await StartScanAsync(request, request.ScanMode ?? ScanMode.None, token, image with { Digest = upstream.Digest },
            request.Platform ?? ContainerPlatform.LinuxAmd64,
            userCredentials is null ? null : new SingleRegistryCredentials(image.Registry, userCredentials, configuredCredentials), null, cancellationToken);
        containerRequest = containerRequest with
        {
            SealedCredentials = userCredentials is null ? null : await sealer.SealAsync(token, image.Registry, userCredentials, cancellationToken),
            ScanId = scanId,
            ScanMode = scanId is null ? null : scanMode.ToWire(),
            ScanLevels = scanId is null ? null : request.ScanLevels,
        };
        var credentialsSource = userCredentials is not null ? "platform"
            : await configuredCredentials.GetAsync(image.Registry, cancellationToken) is not null ? "configuration" : null;
        await recorder.RecordAsync(containerRequest, request.PlatformAccess, credentialsSource,
            new RecordDetails(null, Freeze: false, Mirror: false, BuildNew: null, scanId, request.Fingerprint,
                containerRequest.ScanMode, containerRequest.ScanLevels), cancellationToken);
        await store.SaveAsync(containerRequest, cancellationToken);
        logger.LogInformation("Issued container token {Token} for {SourceImage}@{SourceDigest} to {User} (augmented: {Augmented})",
            token, containerRequest.SourceImage, upstream.Digest, user?.UserName ?? "anonymous", containerRequest.IsAugmented);
        return new ContainerSubmission
        {
            RequestId = token,
            Token = token,
            TargetImage = containerRequest.TargetImage,
            Expiration = containerRequest.ExpiresAt,
            ContainerImage = containerRequest.SourceImage,
            ScanId = scanId,
            // Ready now, unless a scan is to say so.
            Succeeded = scanId is null ? true : null,
        };
    }

    /// <summary>
    /// Starts (or joins) the scan a request asks for; nothing for a dry run or <c>scanMode: none</c>. The request was
    /// checked against the service's capabilities before, so scans are enabled when a mode is given.
    /// </summary>
    private async Task<(string? ScanId, ScanMode Mode)> StartScanAsync(ValidatedContainerRequest request, ScanMode mode, string requestId, ImageReference image,
        ContainerPlatform platform, IRegistryCredentialsProvider? credentials, string? buildId, CancellationToken cancellationToken)
    {
        if (request.DryRun || mode == ScanMode.None)
        {
            return (null, ScanMode.None);
        }
        var scanId = await scans.StartScanAsync(new ScanSubject(image, platform, credentials, new ScanOrigin(BuildId: buildId, RequestId: requestId)), mode, cancellationToken);
        return (scanId, mode);
    }

    /// <summary>The registry a user named must be one Wave may reach (see <see cref="NetworkTargetPolicy"/>).</summary>
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

    /// <summary>The builder fetches a freeze's http(s) layers for the user: their hosts must pass the network policy too.</summary>
    private async Task CheckRemoteLayersAsync(Core.Builds.BuildPlan plan, CancellationToken cancellationToken)
    {
        for (var i = 0; i < plan.RemoteLayers.Count; i++)
        {
            var location = plan.RemoteLayers[i].Location;
            if (await policy.CheckAsync(location, cancellationToken) is { } refusal)
            {
                var index = int.Parse(plan.RemoteLayers[i].Path.Where(char.IsAsciiDigit).ToArray(), System.Globalization.CultureInfo.InvariantCulture);
                throw ApiException.BadRequest($"containerConfig.layers[{index}].location", $"'{location.GetLeftPart(UriPartial.Authority)}' {refusal}");
            }
        }
    }

    private string TargetImage(string token, ImageReference image)
    {
        var name = $"{targetHost.Value}/wt/{token}/{image.Repository}";
        if (image.Tag is not null)
        {
            name += ":" + image.Tag;
        }
        if (image.Digest is not null)
        {
            name += "@" + image.Digest;
        }
        return name;
    }

    private async Task<ManifestResponse> ResolveUpstreamAsync(ImageReference image, CancellationToken cancellationToken)
    {
        var key = image.ToString();
        if (_resolved.TryGetValue(key, out ManifestResponse? cached))
        {
            return cached!;
        }
        var resolved = await _resolving.RunAsync(image, shared => FetchUpstreamAsync(registry, shared, CancellationToken.None), cancellationToken);
        if (options.Value.Tokens.UpstreamCacheTime > TimeSpan.Zero)
        {
            _resolved.Set(key, resolved, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = options.Value.Tokens.UpstreamCacheTime, Size = 1 });
        }
        return resolved;
    }

    private static async Task<ManifestResponse> FetchUpstreamAsync(RegistryClient registry, ImageReference image, CancellationToken cancellationToken)
    {
        // A child of the request that started the resolution; requests that join it in flight have no span of their own.
        using var activity = WaveTelemetry.ActivitySource.StartActivity(WaveTelemetry.Spans.ResolveUpstream);
        activity?.SetTag(WaveTelemetry.Tags.SourceImage, image.ToString());
        try
        {
            // Shared by every request waiting on it, so no one request's cancellation stops it (the client has a timeout).
            return await registry.GetManifestAsync(image.Registry, image.Repository, image.Reference, CancellationToken.None);
        }
        catch (RegistryException e) when (e.Kind == RegistryErrorKind.NotFound)
        {
            throw ApiException.BadRequest("containerImage", $"'{image}' was not found: {e.Message}");
        }
        catch (RegistryException e) when (e.Kind == RegistryErrorKind.Unauthorized)
        {
            throw ApiException.BadRequest("containerImage", $"'{image}' cannot be accessed: {e.Message}");
        }
        catch (RegistryException e)
        {
            throw ApiException.Upstream(e, $"resolving '{image}'");
        }
    }

    private static void RequirePlatform(ImageReference image, ManifestResponse upstream, ContainerPlatform platform)
    {
        ImageIndex index;
        try
        {
            index = ManifestJson.Deserialize<ImageIndex>(upstream.Content);
        }
        catch (InvalidManifestException e)
        {
            throw new ApiException(StatusCodes.Status502BadGateway, $"upstream registry {image.Registry} returned an invalid index for '{image}': {e.Message}");
        }
        if (index.ManifestFor(platform) is null)
        {
            var available = string.Join(", ", index.Manifests
                .Where(m => m.Platform is { Os: not "unknown" })
                .Select(m => $"{m.Platform!.Os}/{m.Platform.Architecture}{(m.Platform.Variant is null ? "" : "/" + m.Platform.Variant)}"));
            throw ApiException.BadRequest("containerPlatform", $"'{platform}' is not provided by '{image}' (it has: {available})");
        }
    }
}
