using Wave.Core.Names;
using Wave.Core.Registry;

namespace Wave.Core.Mirrors;

/// <summary>
/// Where a mirror puts an image: the source's repository path and tag (or digest) under the request's
/// <c>buildRepository</c>, as the Wave server names it, so that only the registry (and a prefix) changes:
/// <c>docker.io/library/busybox:1.36</c> to <c>quay.io/me</c> is <c>quay.io/me/library/busybox:1.36</c>, and to the
/// bare registry <c>quay.io</c> it is <c>quay.io/library/busybox:1.36</c>.
/// </summary>
public static class MirrorTarget
{
    /// <summary>The target name, or the reason <paramref name="buildRepository"/> cannot take a mirror (phrased to follow the field name).</summary>
    public static ImageReference? TryName(ImageReference source, string buildRepository, out string? problem)
    {
        problem = null;
        var repository = buildRepository.Trim().TrimEnd('/');
        if (repository.Contains("://", StringComparison.Ordinal))
        {
            problem = $"'{buildRepository}' should not include any protocol prefix";
            return null;
        }
        string registry;
        string? prefix;
        if (!repository.Contains('/') && LooksLikeHost(repository))
        {
            // A bare registry: the copy keeps the source's whole repository path.
            registry = repository;
            prefix = null;
        }
        else
        {
            if (!ImageReference.TryParse(repository, out var parsed, out var error))
            {
                problem = $"'{buildRepository}' is not a valid repository name: {error}";
                return null;
            }
            if (parsed.Digest is not null || repository.LastIndexOf(':') > repository.LastIndexOf('/'))
            {
                problem = $"'{buildRepository}' should not include any tag or digest suffix (the mirror keeps the source's tag)";
                return null;
            }
            registry = parsed.Registry;
            prefix = parsed.Repository;
        }
        var name = $"{registry}/{(prefix is null ? "" : prefix + "/")}{source.Repository}"
            + (source.Tag is null && source.Digest is null ? ":latest" : "")
            + (source.Tag is null ? "" : ":" + source.Tag)
            + (source.Digest is null ? "" : "@" + source.Digest);
        if (!ImageReference.TryParse(name, out var target, out var targetError))
        {
            problem = $"'{buildRepository}' gives the target name '{name}', which is not valid: {targetError}";
            return null;
        }
        return target;
    }

    /// <summary>Source and target on one registry: the Wave server refuses that (a copy onto itself).</summary>
    public static bool SameRegistry(ImageReference source, ImageReference target) => RegistryAddress.SameRegistry(source.Registry, target.Registry);

    /// <summary>As image names tell a host from a path component: it has a dot or a port, or is localhost.</summary>
    private static bool LooksLikeHost(string component) =>
        component.Contains('.') || component.Contains(':') || component.Equals("localhost", StringComparison.OrdinalIgnoreCase);
}
