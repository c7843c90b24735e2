using System.Text.Json;

using Wave.Core.Builds;

namespace Wave.Api.Containers;

/// <summary>
/// What this Wave service can honour of a container request. Each capability that is off makes a request that needs
/// it a refusal (see <see cref="RequestCapabilities"/>), never a silent drop. Turning one on is the place where an
/// implementation replaces a refusal: set its flag where the service registers it (<see cref="For"/>).
/// </summary>
public sealed record ServiceCapabilities
{
    /// <summary>Image builds (<c>Wave:Build:Enabled</c>).</summary>
    public bool Builds { get; init; }

    /// <summary>Container mirroring (<c>mirror: true</c>): <c>Wave:Mirror:Enabled</c>, and builders to copy on (<c>Wave:Build:Enabled</c>).</summary>
    public bool Mirror { get; init; }

    /// <summary>Security scans (<c>scanMode</c>, <c>scanLevels</c>): on when a vulnerability database is configured (<c>Wave:Scan:VulnerabilityDatabase</c>).</summary>
    public bool Scan { get; init; }

    /// <summary>One build for several platforms (<c>containerPlatform: linux/amd64,linux/arm64</c>): an image index.</summary>
    public bool MultiPlatformBuilds { get; init; }

    /// <summary>A build context archive sent with the request (<c>buildContext</c>), unpacked as the build's context.</summary>
    public bool BuildContext { get; init; }

    /// <summary>
    /// Other images merged into a built container (<c>containerIncludes</c>). Only with a build: on an image served as it
    /// is (an augmentation) they are still refused.
    /// </summary>
    public bool ContainerIncludes { get; init; }

    /// <summary>Conda lock files at an http(s) URL in <c>packages.entries</c>, fetched by the builder.</summary>
    public bool RemoteCondaLockFiles { get; init; }

    /// <summary>Layer compression other than gzip, or a level (<c>buildCompression</c>); what the builder cannot write is the planner's 400.</summary>
    public bool BuildCompression { get; init; }

    /// <summary>The <c>buildTemplate</c> values a packages build can use, by package type.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> BuildTemplates { get; init; } = new Dictionary<string, IReadOnlyList<string>>
    {
        ["CONDA"] = [CondaMicromambaV1],
    };

    /// <summary>The template this service's Conda builds follow (micromamba 1.x, one stage).</summary>
    public const string CondaMicromambaV1 = "conda/micromamba:v1";

    /// <summary>The templates the Wave API defines (wave-api BuildTemplate).</summary>
    public static readonly IReadOnlyList<string> KnownBuildTemplates = ["conda/pixi:v1", CondaMicromambaV1, "conda/micromamba:v2", "cran/installr:v1"];

    /// <summary>What this service honours with these build and mirror settings.</summary>
    public static ServiceCapabilities For(BuildOptions builds, Core.Mirrors.MirrorOptions? mirrors = null) => new()
    {
        Builds = builds.Enabled,
        Mirror = builds.Enabled && (mirrors?.Enabled ?? true),
        MultiPlatformBuilds = true,
        BuildContext = true,
        ContainerIncludes = true,
        RemoteCondaLockFiles = true,
        BuildCompression = true,
        BuildTemplates = new Dictionary<string, IReadOnlyList<string>>
        {
            ["CONDA"] = [Core.Builds.BuildTemplates.CondaMicromambaV2, CondaMicromambaV1, Core.Builds.BuildTemplates.CondaPixiV1],
            ["CRAN"] = [Core.Builds.BuildTemplates.CranInstallrV1],
        },
    };
}

/// <summary>
/// The one place that decides whether a container request asks for something this service cannot honour. Statuses
/// and messages follow the Wave server: a conflict between fields is a 400, a capability this service does not have
/// is a 501 that names it. Runs before any other check of the request, as the server's controller does.
/// </summary>
public static class RequestCapabilities
{
    public const string MultiPlatform = "linux/amd64,linux/arm64";

    /// <param name="v2">Whether the request came through <c>/v1alpha2/container</c> (else the legacy <c>/container-token</c>).</param>
    /// <exception cref="ApiException">400 or 501 naming the field.</exception>
    public static void Check(SubmitContainerTokenRequest request, bool v2, ServiceCapabilities capabilities)
    {
        CheckLegacyEndpoint(request, v2);
        CheckMirror(request, v2, capabilities);
        CheckScan(request, capabilities);
        CheckMultiPlatform(request, capabilities);
        if (request.BuildContext is { ValueKind: not JsonValueKind.Null } && !capabilities.BuildContext)
        {
            throw NotImplemented("buildContext", "Build context is not supported by this Wave service - send the files the build needs inside the containerFile (COPY of a build context is not available)");
        }
        if (request.ContainerIncludes is { Count: > 0 } && !capabilities.ContainerIncludes)
        {
            throw NotImplemented("containerIncludes", "Container includes are not supported by this Wave service - build an image that contains them instead");
        }
        if (request.ContainerIncludes is { Count: > 0 } && !AsksForBuild(request))
        {
            throw NotImplemented("containerIncludes", "Container includes are merged into built images only by this Wave service - send freeze with a buildRepository (or a containerFile) so that they are built in; adding them to an image as it is served is not supported");
        }
        CheckPackages(request, capabilities);
        CheckCompression(request, capabilities);
        if (AsksForBuild(request) && !capabilities.Builds)
        {
            throw NotImplemented(BuildField(request), "Build service is not enabled - Check Wave configuration setting 'Wave:Build:Enabled'");
        }
    }

    private static void CheckLegacyEndpoint(SubmitContainerTokenRequest request, bool v2)
    {
        if (v2)
        {
            return;
        }
        if (request.Packages is { ValueKind: not JsonValueKind.Null })
        {
            throw BadRequest("packages", "Attribute `packages` is not allowed");
        }
        if (request.NameStrategy is not null)
        {
            throw BadRequest("nameStrategy", "Attribute `nameStrategy` is not allowed by legacy container endpoint");
        }
    }

    private static void CheckMirror(SubmitContainerTokenRequest request, bool v2, ServiceCapabilities capabilities)
    {
        if (request.Mirror != true)
        {
            return;
        }
        if (!v2)
        {
            throw BadRequest("mirror", "Container mirroring requires the use of v2 API");
        }
        if (string.IsNullOrWhiteSpace(request.ContainerImage))
        {
            throw BadRequest("containerImage", "Attribute `containerImage` is required when specifying `mirror` mode");
        }
        if (string.IsNullOrEmpty(request.TowerAccessToken))
        {
            throw BadRequest("towerAccessToken", "Container mirroring requires an authenticated request - specify the tower token attribute");
        }
        if (request.Freeze == true)
        {
            throw BadRequest("freeze", "Attribute `mirror` and `freeze` conflict each other");
        }
        if (request.ContainerFile is not null)
        {
            throw BadRequest("containerFile", "Attribute `mirror` and `containerFile` conflict each other");
        }
        if (request.ContainerIncludes is { Count: > 0 })
        {
            throw BadRequest("containerIncludes", "Attribute `mirror` and `containerIncludes` conflict each other");
        }
        if (request.ContainerConfig is { IsEmpty: false })
        {
            throw BadRequest("containerConfig", "Attribute `mirror` and `containerConfig` conflict each other");
        }
        // What else would make it a build: the server builds such a request and drops the mirror; refused here (wave-cli refuses them too).
        foreach (var (field, present) in new[]
                 {
                     ("packages", request.Packages is { ValueKind: not JsonValueKind.Null }),
                     ("condaFile", request.CondaFile is not null),
                     ("spackFile", request.SpackFile is not null),
                     ("buildContext", request.BuildContext is { ValueKind: not JsonValueKind.Null }),
                     ("format", ContainerRequestValidator.AsksForSif(request)),
                 })
        {
            if (present)
            {
                throw BadRequest(field, $"Attribute `mirror` and `{field}` conflict each other");
            }
        }
        if (string.IsNullOrWhiteSpace(request.BuildRepository))
        {
            throw BadRequest("buildRepository", "Attribute `buildRepository` is required when specifying `mirror` mode");
        }
        if (Core.Names.ImageReference.TryParse(request.ContainerImage, out var source, out _)
            && Core.Names.ImageReference.TryParse(request.BuildRepository.TrimEnd('/') + ":x", out var target, out _)
            && Core.Registry.RegistryAddress.SameRegistry(source.Registry, target.Registry))
        {
            throw BadRequest("buildRepository", $"Source and target mirror registry are the same - offending value '{request.BuildRepository}'");
        }
        if (!capabilities.Mirror)
        {
            throw NotImplemented("mirror", "Mirror service is not enabled - Check Wave configuration settings 'Wave:Mirror:Enabled' and 'Wave:Build:Enabled' (copies run on the builders)");
        }
    }

    private static void CheckScan(SubmitContainerTokenRequest request, ServiceCapabilities capabilities)
    {
        if (capabilities.Scan)
        {
            return;
        }
        if (request.ScanMode is { } mode && !mode.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            throw NotImplemented("scanMode", $"Security scan service is not enabled - Check Wave configuration setting '{Core.Scans.ScanOptions.DatabaseSetting}' " +
                $"(a folder or archive of OSV vulnerability advisories): scanMode '{mode}' cannot be honoured without it (send none or leave it out)");
        }
        if (request.ScanLevels is { Count: > 0 })
        {
            throw NotImplemented("scanLevels", $"Security scan service is not enabled - Check Wave configuration setting '{Core.Scans.ScanOptions.DatabaseSetting}': scanLevels cannot be checked without it (leave them out)");
        }
    }

    private static void CheckMultiPlatform(SubmitContainerTokenRequest request, ServiceCapabilities capabilities)
    {
        if (request.ContainerPlatform is not { } platform || !platform.Contains(',', StringComparison.Ordinal))
        {
            return;
        }
        var parts = platform.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var normalized = parts.Select(p => Core.Names.ContainerPlatform.TryParse(p, out var parsed, out _) ? parsed.ToString() : p).Order(StringComparer.Ordinal);
        if (!normalized.SequenceEqual(["linux/amd64", "linux/arm64"]))
        {
            throw BadRequest("containerPlatform", $"Only {MultiPlatform} multi-platform combination is currently supported");
        }
        if (request.ContainerFile is null && request.Packages is not { ValueKind: not JsonValueKind.Null })
        {
            throw BadRequest("containerPlatform", "Multi-platform builds require either 'containerFile' or 'packages' attribute");
        }
        if (request.Format is { } format && (format.Equals(BuildPlanner.SifFormat, StringComparison.OrdinalIgnoreCase) || format.Equals("singularity", StringComparison.OrdinalIgnoreCase)))
        {
            throw BadRequest("containerPlatform", "Multi-platform builds are not supported for Singularity format");
        }
        if (!capabilities.MultiPlatformBuilds)
        {
            throw NotImplemented("containerPlatform", $"Multi-platform build service is not enabled - this Wave service builds one platform per request: ask once for linux/amd64 and once for linux/arm64");
        }
    }

    private static void CheckPackages(SubmitContainerTokenRequest request, ServiceCapabilities capabilities)
    {
        if (request.Packages is not { ValueKind: JsonValueKind.Object } packages)
        {
            return;
        }
        var type = packages.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()!.ToUpperInvariant() : null;
        // CRAN is a package type of the Wave API that this service does not build; an unknown type is the planner's 400.
        if (type is "CRAN" && !capabilities.BuildTemplates.ContainsKey(type))
        {
            throw NotImplemented("packages.type", $"Packages of type {type} are not supported by this Wave service - it builds {string.Join(", ", capabilities.BuildTemplates.Keys)} packages");
        }
        if (request.BuildTemplate is { } template && type is not null && capabilities.BuildTemplates.TryGetValue(type, out var templates) && !templates.Contains(template))
        {
            if (!ServiceCapabilities.KnownBuildTemplates.Contains(template))
            {
                throw BadRequest("buildTemplate", $"Unknown build template '{template}' - the Wave API defines {string.Join(", ", ServiceCapabilities.KnownBuildTemplates)}");
            }
            throw NotImplemented("buildTemplate", $"Build template '{template}' is not supported by this Wave service - its {type} builds use {string.Join(", ", templates)}");
        }
        if (!capabilities.RemoteCondaLockFiles && packages.TryGetProperty("entries", out var entries) && entries.ValueKind == JsonValueKind.Array)
        {
            var i = 0;
            foreach (var entry in entries.EnumerateArray())
            {
                if (entry.ValueKind == JsonValueKind.String && entry.GetString() is { } spec
                    && (spec.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || spec.StartsWith("https://", StringComparison.OrdinalIgnoreCase)))
                {
                    throw NotImplemented($"packages.entries[{i}]", $"Remote Conda lock files are not supported by this Wave service - '{spec}' is a URL: list package specs or send the file as packages.environment");
                }
                i++;
            }
        }
    }

    private static void CheckCompression(SubmitContainerTokenRequest request, ServiceCapabilities capabilities)
    {
        if (capabilities.BuildCompression || request.BuildCompression is not { ValueKind: JsonValueKind.Object } compression)
        {
            return;
        }
        string? Text(string name) => compression.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.ToString() : null;
        var mode = Text("mode");
        var level = Text("level");
        var force = Text("force");
        // gzip is what every build of this service pushes already: asking for it is honoured.
        if ((mode is null || mode.Equals("gzip", StringComparison.OrdinalIgnoreCase)) && level is null && force is null or "false")
        {
            return;
        }
        throw NotImplemented("buildCompression", $"Build compression {(mode ?? "gzip")}{(level is null ? "" : $" level {level}")}{(force is "true" ? " (forced)" : "")} is not supported by this Wave service - its builds push gzip layers at the builder's default level");
    }

    /// <summary>Whether the request needs a build (a recipe, freeze, or a SIF), as the validator decides it.</summary>
    public static bool AsksForBuild(SubmitContainerTokenRequest request) =>
        request.ContainerFile is not null || request.CondaFile is not null || request.SpackFile is not null
        || request.Packages is { ValueKind: not JsonValueKind.Null } || request.Freeze == true || ContainerRequestValidator.AsksForSif(request);

    private static string BuildField(SubmitContainerTokenRequest request) =>
        request.ContainerFile is not null ? "containerFile"
        : request.Packages is { ValueKind: not JsonValueKind.Null } ? "packages"
        : request.CondaFile is not null ? "condaFile"
        : request.SpackFile is not null ? "spackFile"
        : request.Freeze == true ? "freeze" : "format";

    private static ApiException BadRequest(string field, string message) => new(StatusCodes.Status400BadRequest, message, field);

    private static ApiException NotImplemented(string field, string message) => new(StatusCodes.Status501NotImplemented, message, field);
}
