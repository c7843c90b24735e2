using Wave.Core.Names;

namespace Wave.Core.Builds;

/// <summary>Checks a repository a build pushes to (or caches in): a valid image name with no tag or digest.</summary>
internal static class RepositoryName
{
    /// <returns>The normalised <c>registry/repository</c>.</returns>
    public static string Parse(string field, string value, IReadOnlyList<string> pushRegistries)
    {
        if (!ImageReference.TryParse(value, out var reference, out var error))
        {
            throw RecipeText.Invalid(field, $"'{value}' is not a valid repository name: {error}");
        }
        if (reference.Digest is not null)
        {
            throw RecipeText.Invalid(field, $"'{value}' must be a repository without a digest (Wave adds the tag)");
        }
        if (value.LastIndexOf(':') > value.LastIndexOf('/'))
        {
            throw RecipeText.Invalid(field, $"'{value}' must be a repository without a tag (Wave names the tag after the build)");
        }
        if (pushRegistries.Count > 0 && !pushRegistries.Contains(reference.Registry, StringComparer.OrdinalIgnoreCase))
        {
            throw RecipeText.Invalid(field, $"'{value}' is on registry '{reference.Registry}', where this Wave service cannot push (it can push to: {string.Join(", ", pushRegistries)})");
        }
        return reference.Name;
    }
}
