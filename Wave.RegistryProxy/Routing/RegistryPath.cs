using System.Diagnostics.CodeAnalysis;

namespace Wave.RegistryProxy.Routing;

public enum RegistryPathKind
{
    Manifest,
    Blob,
    TagsList,
}

/// <summary>A parsed <c>/v2/wt/&lt;token&gt;/&lt;name&gt;/(manifests|blobs)/&lt;reference&gt;</c> or <c>…/&lt;name&gt;/tags/list</c> path.</summary>
public sealed record RegistryPath(string Token, string Name, RegistryPathKind Kind, string Reference)
{
    public static bool TryParse(string path, [NotNullWhen(true)] out RegistryPath? parsed)
    {
        parsed = null;
        // path is what follows "/v2/", e.g. "wt/abc/library/busybox/manifests/latest"
        if (!path.StartsWith("wt/", StringComparison.Ordinal))
        {
            return false;
        }
        var rest = path["wt/".Length..];
        var slash = rest.IndexOf('/');
        if (slash <= 0)
        {
            return false;
        }
        var token = rest[..slash];
        rest = rest[(slash + 1)..];
        if (rest.EndsWith("/tags/list", StringComparison.Ordinal) && rest.Length > "/tags/list".Length)
        {
            parsed = new RegistryPath(token, rest[..^"/tags/list".Length], RegistryPathKind.TagsList, "");
            return true;
        }
        foreach (var (marker, kind) in new[] { ("/manifests/", RegistryPathKind.Manifest), ("/blobs/", RegistryPathKind.Blob) })
        {
            var at = rest.LastIndexOf(marker, StringComparison.Ordinal);
            if (at <= 0)
            {
                continue;
            }
            var reference = rest[(at + marker.Length)..];
            if (reference.Length == 0 || reference.Contains('/'))
            {
                return false;
            }
            parsed = new RegistryPath(token, rest[..at], kind, reference);
            return true;
        }
        return false;
    }
}
