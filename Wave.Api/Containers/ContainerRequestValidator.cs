using Wave.Api.Builds;
using Wave.Core.Augmentation;
using Wave.Core.Builds;
using Wave.Core.Digests;
using Wave.Core.Layers;
using Wave.Core.Names;

namespace Wave.Api.Containers;

/// <summary>
/// A request that passed validation: a parsed image, platform and config. For a build, <see cref="Build"/> is its plan
/// and <see cref="Image"/> the name the build pushes; <see cref="Config"/> is then what a pull applies on top of it
/// (none for a freeze, whose config is built into the image).
/// </summary>
public sealed record ValidatedContainerRequest(ImageReference Image, ContainerPlatform? Platform, ContainerConfig? Config, BuildPlan? Build = null)
{
    /// <summary>The Seqera Platform access the request carried (set once its user is resolved), for registry credentials.</summary>
    public Identity.PlatformAccess? PlatformAccess { get; init; }

    /// <summary><c>dryRun</c>: answer what would be produced, issue and build nothing.</summary>
    public bool DryRun { get; init; }

    /// <summary>The client's <c>fingerprint</c>, kept in the record.</summary>
    public string? Fingerprint { get; init; }

    /// <summary>The image the request named (<c>containerImage</c>), when it named one; for a freeze, the image frozen.</summary>
    public string? SourceImage { get; init; }

    /// <summary>For a mirror (<c>mirror: true</c>): where <see cref="Image"/> is copied to.</summary>
    public ImageReference? MirrorTarget { get; init; }

    /// <summary>The time zone offset of the client's <c>timestamp</c> (<c>+02:00</c>, <c>Z</c>), when it sent a readable one.</summary>
    public string? OffsetId { get; init; }

    /// <summary><c>scanMode</c> as sent; null when the request left it out (a build then gets an <c>async</c> scan, as the server does).</summary>
    public Core.Scans.ScanMode? ScanMode { get; init; }

    /// <summary><c>scanLevels</c>, normalised (LOW, MEDIUM, HIGH, CRITICAL): what a required scan may find.</summary>
    public IReadOnlyList<string> ScanLevels { get; init; } = [];
}

/// <summary>A request the service refuses: HTTP status, the field at fault (if any) and why.</summary>
public sealed class ApiException(int statusCode, string message, string? field = null) : Exception(message)
{
    public int StatusCode { get; } = statusCode;
    public string? Field { get; } = field;

    /// <summary>Sent as a Retry-After header (seconds) when set, e.g. with a 429.</summary>
    public TimeSpan? RetryAfter { get; init; }

    public static ApiException BadRequest(string field, string problem) => new(StatusCodes.Status400BadRequest, $"{field} {problem}", field);

    /// <summary>An upstream registry that timed out (504) or failed (502), named in the message; <paramref name="activity"/> says what Wave was doing.</summary>
    public static ApiException Upstream(Wave.Core.Registry.RegistryException e, string? activity = null)
    {
        var timedOut = e.Kind == Wave.Core.Registry.RegistryErrorKind.Timeout;
        var what = timedOut ? "did not answer in time" : "failed";
        var during = activity is null ? "" : $" while {activity}";
        return new(timedOut ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway, $"upstream registry {e.Registry} {what}{during}: {e.Message}");
    }
}

/// <summary>Checks a container request before any I/O. Messages start with the field name they concern.</summary>
public static class ContainerRequestValidator
{
    private static readonly string[] BuildFields = ["containerFile", "condaFile", "spackFile", "packages"];

    /// <param name="builds">The build settings; null or disabled: a build request is refused.</param>
    public static ValidatedContainerRequest Validate(SubmitContainerTokenRequest request, ContainerRequestLimits limits, BuildOptions? builds = null)
    {
        Core.Scans.ScanMode? scanMode = null;
        if (request.ScanMode is not null)
        {
            scanMode = Core.Scans.ScanModes.TryParse(request.ScanMode, out var mode, out var modeError) ? mode : throw ApiException.BadRequest("scanMode", modeError![("scanMode: ".Length)..]);
        }
        if (!Core.Scans.ScanLevel.TryParseList(request.ScanLevels, out var scanLevels, out var levelsError))
        {
            throw ApiException.BadRequest("scanLevels", levelsError["scanLevels: ".Length..]);
        }
        return ValidateContent(request, limits, builds) with { ScanMode = scanMode, ScanLevels = scanLevels };
    }

    private static ValidatedContainerRequest ValidateContent(SubmitContainerTokenRequest request, ContainerRequestLimits limits, BuildOptions? builds)
    {
        if (request.Mirror == true)
        {
            return ValidateMirror(request, builds);
        }
        var buildField = BuildSourceField(request);
        if (request.ContainerImage is not null && request.ContainerFile is not null)
        {
            throw new ApiException(StatusCodes.Status400BadRequest, "containerImage and containerFile cannot both be given: a request either augments an image or builds one", "containerImage");
        }
        if (string.IsNullOrWhiteSpace(request.ContainerImage) && buildField is null)
        {
            throw ApiException.BadRequest("containerImage", "is required (or containerFile, to build an image)");
        }
        // A SIF is always built (and frozen): a sif request without a recipe or freeze gets the planner's answer, not an augmentation.
        if (buildField is not null || request.Freeze == true || AsksForSif(request))
        {
            return ValidateBuild(request, buildField ?? (request.Freeze == true ? "freeze" : "format"), limits, builds);
        }

        if (!ImageReference.TryParse(request.ContainerImage, out var image, out var imageError))
        {
            throw ApiException.BadRequest("containerImage", $"'{request.ContainerImage}' is not a valid image name: {imageError}");
        }

        ContainerPlatform? platform = null;
        if (request.ContainerPlatform is not null && !ContainerPlatform.TryParse(request.ContainerPlatform, out platform, out var platformError))
        {
            throw ApiException.BadRequest("containerPlatform", $"'{request.ContainerPlatform}' is not supported: {platformError}");
        }

        var config = request.ContainerConfig is { IsEmpty: false } ? request.ContainerConfig : null;
        if (config is not null)
        {
            if (image.Digest is not null)
            {
                throw ApiException.BadRequest("containerConfig", $"cannot be applied to '{request.ContainerImage}': an image pinned by digest cannot be changed (use a tag)");
            }
            ValidateConfig(config, limits);
        }
        return new ValidatedContainerRequest(image, platform, config) { DryRun = request.DryRun == true, Fingerprint = request.Fingerprint, SourceImage = image.ToString() };
    }

    /// <summary>
    /// A mirror: the source image and the name it is copied to. The conflicts with other fields were refused before
    /// (<see cref="RequestCapabilities"/>); <c>containerPlatform</c> is kept for the record only, as the Wave server
    /// copies every platform of an index whatever the client's platform.
    /// </summary>
    private static ValidatedContainerRequest ValidateMirror(SubmitContainerTokenRequest request, BuildOptions? builds)
    {
        if (!ImageReference.TryParse(request.ContainerImage, out var source, out var imageError))
        {
            throw ApiException.BadRequest("containerImage", $"'{request.ContainerImage}' is not a valid image name: {imageError}");
        }
        ContainerPlatform? platform = null;
        if (request.ContainerPlatform is not null && !ContainerPlatform.TryParse(request.ContainerPlatform, out platform, out var platformError))
        {
            throw ApiException.BadRequest("containerPlatform", $"'{request.ContainerPlatform}' is not supported: {platformError}");
        }
        if (Core.Mirrors.MirrorTarget.TryName(source, request.BuildRepository!, out var problem) is not { } target)
        {
            throw ApiException.BadRequest("buildRepository", problem!);
        }
        if (Core.Mirrors.MirrorTarget.SameRegistry(source, target))
        {
            throw new ApiException(StatusCodes.Status400BadRequest, $"Source and target mirror registry are the same - offending value '{request.BuildRepository}'", "buildRepository");
        }
        // As the server's validation: a mirror goes to a repository of the user's, never into Wave's own build or cache repository.
        foreach (var own in new[] { builds?.DefaultBuildRepository, builds?.DefaultCacheRepository })
        {
            if (own is { Length: > 0 } && (target.Name + "/").StartsWith(own.TrimEnd('/') + "/", StringComparison.OrdinalIgnoreCase))
            {
                throw new ApiException(StatusCodes.Status400BadRequest, $"Mirror registry not allowed - offending value '{request.BuildRepository}'", "buildRepository");
            }
        }
        return new ValidatedContainerRequest(source, platform, null)
        {
            DryRun = request.DryRun == true,
            Fingerprint = request.Fingerprint,
            SourceImage = source.ToString(),
            MirrorTarget = target,
            OffsetId = OffsetOf(request.Timestamp),
        };
    }

    /// <summary><c>+02:00</c> of <c>2024-04-09T21:19:01.715+02:00</c>, <c>Z</c> for UTC; null for a timestamp that is not ISO-8601.</summary>
    private static string? OffsetOf(string? timestamp)
    {
        if (timestamp is null || !DateTimeOffset.TryParse(timestamp, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var parsed))
        {
            return null;
        }
        return parsed.Offset == TimeSpan.Zero ? "Z" : parsed.ToString("zzz", System.Globalization.CultureInfo.InvariantCulture);
    }

    public static bool AsksForSif(SubmitContainerTokenRequest request) =>
        request.Format is { } format && (format.Equals(BuildPlanner.SifFormat, StringComparison.OrdinalIgnoreCase) || format.Equals("singularity", StringComparison.OrdinalIgnoreCase));

    private static ValidatedContainerRequest ValidateBuild(SubmitContainerTokenRequest request, string field, ContainerRequestLimits limits, BuildOptions? builds)
    {
        if (builds is not { Enabled: true })
        {
            // RequestCapabilities refuses this first (501); kept so that no caller can plan a build that will never run.
            throw new ApiException(StatusCodes.Status501NotImplemented, "Build service is not enabled - Check Wave configuration setting 'Wave:Build:Enabled'", field);
        }
        BuildPlan plan;
        try
        {
            plan = BuildPlanner.Plan(BuildRequestMapping.ToFields(request), builds);
        }
        catch (InvalidBuildRequestException e)
        {
            throw ApiException.BadRequest(e.Error.Field, e.Error.Problem);
        }
        var config = !plan.Freeze && request.ContainerConfig is { IsEmpty: false } pullConfig ? pullConfig : null;
        if (config is not null)
        {
            ValidateConfig(config, limits);
        }
        return new ValidatedContainerRequest(ImageReference.Parse(plan.TargetImage), plan.IsMultiPlatform ? null : plan.Platform, config, plan)
        {
            DryRun = request.DryRun == true,
            Fingerprint = request.Fingerprint,
            SourceImage = ImageReference.TryParse(request.ContainerImage, out var source, out _) ? source.ToString() : null,
        };
    }

    private static string? BuildSourceField(SubmitContainerTokenRequest request) =>
        BuildFields.FirstOrDefault(field => field switch
        {
            "containerFile" => request.ContainerFile is not null,
            "condaFile" => request.CondaFile is not null,
            "spackFile" => request.SpackFile is not null,
            "packages" => request.Packages is { ValueKind: not System.Text.Json.JsonValueKind.Null },
            _ => false,
        });

    private static void ValidateConfig(ContainerConfig config, ContainerRequestLimits limits)
    {
        for (var i = 0; i < (config.Env?.Count ?? 0); i++)
        {
            var entry = config.Env![i];
            if (string.IsNullOrEmpty(entry) || entry.IndexOf('=') <= 0)
            {
                throw ApiException.BadRequest($"containerConfig.env[{i}]", $"'{entry}' must have the form NAME=VALUE");
            }
        }
        if (config.WorkingDir is { Length: 0 })
        {
            throw ApiException.BadRequest("containerConfig.workingDir", "must not be empty");
        }
        var layers = config.Layers ?? [];
        if (layers.Count > limits.MaxLayers)
        {
            throw ApiException.BadRequest("containerConfig.layers", $"has {layers.Count} layers; at most {limits.MaxLayers} are allowed (Wave:Limits:MaxLayers)");
        }
        long inlineTotal = 0;
        for (var i = 0; i < layers.Count; i++)
        {
            inlineTotal += ValidateLayer(layers[i], $"containerConfig.layers[{i}]", limits);
        }
        if (inlineTotal > limits.MaxInlineLayerBytes)
        {
            throw ApiException.BadRequest("containerConfig.layers", $"carry {inlineTotal} bytes of data: layers; at most {limits.MaxInlineLayerBytes} are allowed (Wave:Limits:MaxInlineLayerBytes)");
        }
    }

    /// <returns>The number of inline bytes the layer carries.</returns>
    private static long ValidateLayer(ContainerLayer layer, string field, ContainerRequestLimits limits)
    {
        if (!LayerLocation.TryParse(layer.Location, out var location, out var locationError))
        {
            throw ApiException.BadRequest($"{field}.location", locationError);
        }
        if (!Digest.IsValid(layer.GzipDigest))
        {
            throw ApiException.BadRequest($"{field}.gzipDigest", layer.GzipDigest is null ? "is required" : $"'{layer.GzipDigest}' is not a sha256 digest (sha256:<64 lower-case hex>)");
        }
        if (!Digest.IsValid(layer.TarDigest))
        {
            throw ApiException.BadRequest($"{field}.tarDigest", layer.TarDigest is null ? "is required" : $"'{layer.TarDigest}' is not a sha256 digest (sha256:<64 lower-case hex>)");
        }
        if (layer.GzipSize <= 0)
        {
            throw ApiException.BadRequest($"{field}.gzipSize", "is required and must be greater than zero");
        }
        if (location is not LayerLocation.Inline inline)
        {
            return 0;
        }
        if (inline.DecodedLength > limits.MaxInlineLayerBytes)
        {
            throw ApiException.BadRequest($"{field}.location", $"carries {inline.DecodedLength} bytes; at most {limits.MaxInlineLayerBytes} are allowed inline (Wave:Limits:MaxInlineLayerBytes)");
        }
        var bytes = inline.TryDecode() ?? throw ApiException.BadRequest($"{field}.location", "is not valid base64");
        if (LayerVerifier.Verify(bytes, layer, limits.MaxLayerTarBytes) is { } mismatch)
        {
            throw ApiException.BadRequest($"{field}.{mismatch.Field}", mismatch.Problem);
        }
        return bytes.LongLength;
    }
}
