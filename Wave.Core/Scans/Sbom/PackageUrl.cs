using System.Globalization;
using System.Text;

namespace Wave.Core.Scans.Sbom;

/// <summary>
/// Package URLs (<c>pkg:type/namespace/name@version?qualifiers</c>, the purl specification) for the packages Wave
/// finds: <c>pkg:deb/debian/…</c>, <c>pkg:apk/alpine/…</c>, <c>pkg:conda/…</c>, <c>pkg:pypi/…</c>, and
/// <c>pkg:oci/…</c> for the image itself. No purl package exists on NuGet for .NET 10 here, so this is the small
/// builder the specification describes: every part percent-encoded except unreserved characters (and <c>:</c>, which
/// purl leaves as it is), qualifiers sorted by key, empty qualifiers left out.
/// </summary>
public static class PackageUrl
{
    public static string For(InstalledPackage package, Distribution? distribution)
    {
        ArgumentNullException.ThrowIfNull(package);
        return package.Kind switch
        {
            PackageKind.Dpkg => Build("deb", distribution?.Id ?? "debian", package.Name, package.Version,
                [("arch", package.Architecture), ("distro", Distro(distribution))]),
            PackageKind.Apk => Build("apk", distribution?.Id ?? "alpine", package.Name, package.Version,
                [("arch", package.Architecture), ("distro", distribution?.VersionId)]),
            PackageKind.Conda => Build("conda", null, package.Name, package.Version,
                [("build", package.Build), ("channel", package.Channel), ("subdir", package.Subdir)]),
            PackageKind.Python => Build("pypi", null, PythonName(package.Name), package.Version, []),
            _ => throw new ArgumentOutOfRangeException(nameof(package), package.Kind, "unknown package kind"),
        };
    }

    /// <summary>An image by digest: <c>pkg:oci/busybox@sha256%3A…?arch=amd64&amp;repository_url=host/library/busybox</c>.</summary>
    public static string ForImage(string registry, string repository, string digest, string? architecture)
    {
        var name = repository[(repository.LastIndexOf('/') + 1)..];
        // The purl specification's oci examples encode the digest's colon (sha256%3A…).
        return Build("oci", null, name.ToLowerInvariant(), digest, [("arch", architecture), ("repository_url", $"{registry}/{repository}")], versionColon: false);
    }

    /// <summary>PyPI names are case-insensitive and treat <c>_</c> as <c>-</c>; purl writes them lower case with dashes.</summary>
    public static string PythonName(string name) => name.ToLowerInvariant().Replace('_', '-');

    private static string? Distro(Distribution? distribution) =>
        distribution is null ? null : distribution.VersionId is { } version ? $"{distribution.Id}-{version}" : distribution.Id;

    private static string Build(string type, string? @namespace, string name, string version, IEnumerable<(string Key, string? Value)> qualifiers,
        bool versionColon = true)
    {
        var purl = new StringBuilder("pkg:").Append(type).Append('/');
        if (!string.IsNullOrEmpty(@namespace))
        {
            purl.Append(Encode(@namespace.ToLowerInvariant())).Append('/');
        }
        purl.Append(Encode(name)).Append('@').Append(Encode(version, colon: versionColon));
        var present = qualifiers.Where(q => !string.IsNullOrEmpty(q.Value)).OrderBy(q => q.Key, StringComparer.Ordinal).ToList();
        for (var i = 0; i < present.Count; i++)
        {
            purl.Append(i == 0 ? '?' : '&').Append(present[i].Key).Append('=').Append(Encode(present[i].Value!, slash: true));
        }
        return purl.ToString();
    }

    /// <summary>Percent-encodes all but unreserved characters, and <c>:</c> and <c>/</c> where the specification leaves them readable.</summary>
    private static string Encode(string value, bool colon = true, bool slash = false)
    {
        var text = new StringBuilder(value.Length);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or '~' || (colon && c == ':') || (slash && c == '/'))
            {
                text.Append(c);
            }
            else
            {
                text.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }
        return text.ToString();
    }
}
