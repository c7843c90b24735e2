using System.Text.Json;

using Wave.Api.Containers;
using Wave.Core.Builds;

namespace Wave.Api.Builds;

/// <summary>The build fields of a container request body, as the build planner takes them.</summary>
public static class BuildRequestMapping
{
    /// <summary>True when the body asks for a build (a recipe, or freeze) rather than an augmentation.</summary>
    public static bool AsksForBuild(SubmitContainerTokenRequest request) => ToFields(request).AsksForBuild;

    /// <exception cref="ApiException">400 naming <c>packages</c> when it is not an object of the documented shape.</exception>
    public static BuildRequestFields ToFields(SubmitContainerTokenRequest request) => new()
    {
        ContainerImage = request.ContainerImage,
        ContainerFile = request.ContainerFile,
        ContainerConfig = request.ContainerConfig,
        CondaFile = request.CondaFile,
        SpackFile = request.SpackFile,
        Packages = Packages(request.Packages),
        ContainerPlatform = request.ContainerPlatform,
        BuildRepository = request.BuildRepository,
        CacheRepository = request.CacheRepository,
        Freeze = request.Freeze == true,
        NameStrategy = request.NameStrategy,
        Format = request.Format,
        BuildContext = Object<Core.Augmentation.ContainerLayer>("buildContext", request.BuildContext, "{location, gzipDigest, gzipSize, tarDigest}"),
        ContainerIncludes = request.ContainerIncludes,
        BuildTemplate = request.BuildTemplate,
        BuildCompression = Object<BuildCompressionFields>("buildCompression", request.BuildCompression, "{mode, level, force}"),
    };

    /// <exception cref="ApiException">400 naming <paramref name="field"/> (or the part of it) when it is not an object of the documented shape.</exception>
    private static T? Object<T>(string field, JsonElement? value, string shape) where T : class
    {
        if (value is not { } element || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw ApiException.BadRequest(field, $"must be an object {shape}, not {element.ValueKind.ToString().ToLowerInvariant()}");
        }
        try
        {
            return element.Deserialize<T>();
        }
        catch (JsonException e)
        {
            var path = e.Path is { Length: > 1 } p ? field + p.TrimStart('$') : field;
            throw ApiException.BadRequest(path, "has a value of the wrong type");
        }
    }

    private static PackagesFields? Packages(JsonElement? packages)
    {
        if (packages is not { } element || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw ApiException.BadRequest("packages", $"must be an object {{type, entries, channels, environment, condaOpts}}, not {element.ValueKind.ToString().ToLowerInvariant()}");
        }
        try
        {
            return element.Deserialize<PackagesFields>();
        }
        catch (JsonException e)
        {
            var path = e.Path is { Length: > 1 } p ? "packages" + p.TrimStart('$') : "packages";
            throw ApiException.BadRequest(path, "has a value of the wrong type");
        }
    }
}
