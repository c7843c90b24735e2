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
using Wave.Core.Security;
using Wave.Core.Telemetry;

namespace Wave.Api.Containers;

/// <summary>
/// The answer to a container request: the token (none for a freeze), the name to pull, the image it serves, and the
/// build behind it if any.
/// </summary>
public sealed record ContainerSubmission(ContainerRequest? Request, string TargetImage, string ContainerImage, string? BuildId, bool Cached, bool Freeze);

/// <summary>
/// Turns a validated request into a token: resolves the upstream image with Wave's credentials first (so a missing
/// image or a refused login is an answer now, not a failed pull later), pins its digest, stores the request.
/// </summary>
public sealed class ContainerRequestService(
    RegistryClient registry,
    BuildService builds,
    IRegistryCredentialsProvider configuredCredentials,
    PlatformCredentialsClient platformCredentials,
    CredentialSealer sealer,
    ContainerRequestStore store,
    ContainerRecorder recorder,
    TargetImageHost targetHost,
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
    /// name alone, without a token.
    /// </summary>
    public async Task<ContainerSubmission> SubmitAsync(ValidatedContainerRequest request, WaveUser? user, string? requestIp, CancellationToken cancellationToken)
    {
        if (request.Build is not { } plan)
        {
            var augmented = await SubmitAugmentationAsync(request, user, requestIp, cancellationToken);
            return new ContainerSubmission(augmented, augmented.TargetImage, augmented.SourceImage, BuildId: null, Cached: false, Freeze: false);
        }
        var track = await builds.SubmitAsync(plan, user, requestIp, cancellationToken);
        if (plan.Freeze)
        {
            // A SIF is answered as oras://registry/repository:tag, the name singularity pull takes.
            var durable = plan.ResultImage;
            return new ContainerSubmission(null, durable, durable, track.BuildId, track.Cached, Freeze: true);
        }
        var token = ContainerTokens.New();
        var now = time.GetUtcNow();
        var containerRequest = new ContainerRequest
        {
            Token = token,
            SourceImage = request.Image.ToString(),
            SourceDigest = track.Digest,
            BuildId = track.Digest is null ? track.BuildId : null,
            ContainerConfig = request.Config,
            // A multi-platform build is an index: the token serves it whole, and each client picks its platform.
            Platform = plan.IsMultiPlatform ? null : plan.Platform.ToString(),
            TargetImage = TargetImage(token, request.Image),
            CreatedAt = now,
            ExpiresAt = now + options.Value.Tokens.TimeToLive,
            RequestIp = requestIp,
            User = user,
        };
        await recorder.RecordAsync(containerRequest, request.PlatformAccess,
            await configuredCredentials.GetAsync(request.Image.Registry, cancellationToken) is not null ? "configuration" : null, cancellationToken);
        await store.SaveAsync(containerRequest, cancellationToken);
        logger.LogInformation("Issued container token {Token} for build {BuildId} of {SourceImage} to {User} (cached: {Cached})",
            token, track.BuildId, containerRequest.SourceImage, user?.UserName ?? "anonymous", track.Cached);
        return new ContainerSubmission(containerRequest, containerRequest.TargetImage, track.TargetImage, track.BuildId, track.Cached, Freeze: false);
    }

    private async Task<ContainerRequest> SubmitAugmentationAsync(ValidatedContainerRequest request, WaveUser? user, string? requestIp, CancellationToken cancellationToken)
    {
        var image = request.Image;
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
            SealedCredentials = userCredentials is null ? null : await sealer.SealAsync(token, image.Registry, userCredentials, cancellationToken),
        };
        var credentialsSource = userCredentials is not null ? "platform"
            : await configuredCredentials.GetAsync(image.Registry, cancellationToken) is not null ? "configuration" : null;
        await recorder.RecordAsync(containerRequest, request.PlatformAccess, credentialsSource, cancellationToken);
        await store.SaveAsync(containerRequest, cancellationToken);
        logger.LogInformation("Issued container token {Token} for {SourceImage}@{SourceDigest} to {User} (augmented: {Augmented})",
            token, containerRequest.SourceImage, upstream.Digest, user?.UserName ?? "anonymous", containerRequest.IsAugmented);
        return containerRequest;
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
