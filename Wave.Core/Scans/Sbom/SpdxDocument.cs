using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Wave.Core.Scans.Sbom;

/// <summary>The image an SBOM describes: its name as requested, where it lives, the manifest digest read and its platform.</summary>
public sealed record SbomSubject(string ImageName, string Registry, string Repository, string ManifestDigest, string Platform);

/// <summary>
/// Writes an image's packages as an SPDX 2.3 JSON document: the image as the described package (purpose CONTAINER,
/// an <c>oci</c> purl), its distribution (OPERATING-SYSTEM) and one package per installed package with its purl as a
/// PACKAGE-MANAGER external reference and the file it was found in as <c>sourceInfo</c>; the image CONTAINS each of
/// them (purpose LIBRARY). Licenses are NOASSERTION: package managers record free text, not SPDX expressions. Output is deterministic
/// for the same input (SPDX ids are hashes of purl and location), so it can be compared byte for byte.
/// </summary>
public static class SpdxDocument
{
    public const string MediaType = "application/spdx+json";
    private const string ImageId = "SPDXRef-ContainerImage";
    private const string OperatingSystemId = "SPDXRef-OperatingSystem";

    public static byte[] Write(SbomSubject subject, ImageContents contents, DateTimeOffset created, string documentNamespace, string creatorTool)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentNullException.ThrowIfNull(contents);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("spdxVersion", "SPDX-2.3");
            json.WriteString("dataLicense", "CC0-1.0");
            json.WriteString("SPDXID", "SPDXRef-DOCUMENT");
            json.WriteString("name", subject.ImageName);
            json.WriteString("documentNamespace", documentNamespace);
            json.WriteStartObject("creationInfo");
            json.WriteStartArray("creators");
            json.WriteStringValue("Tool: " + creatorTool);
            json.WriteEndArray();
            json.WriteString("created", created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
            json.WriteEndObject();

            var architecture = subject.Platform.Split('/') is [_, var arch, ..] ? arch : null;
            var related = new List<string>();
            json.WriteStartArray("packages");
            WritePackage(json, ImageId, subject.ImageName, subject.ManifestDigest,
                PackageUrl.ForImage(subject.Registry, subject.Repository, subject.ManifestDigest, architecture), "CONTAINER", null);
            if (contents.Distribution is { } distribution)
            {
                WritePackage(json, OperatingSystemId, distribution.Id, distribution.VersionId, null, "OPERATING-SYSTEM", null);
                related.Add(OperatingSystemId);
            }
            var ids = new HashSet<string>(StringComparer.Ordinal);
            foreach (var package in contents.Packages)
            {
                var purl = PackageUrl.For(package, contents.Distribution);
                var id = PackageId(purl, package.Location);
                if (!ids.Add(id))
                {
                    continue;
                }
                WritePackage(json, id, package.Name, package.Version, purl, "LIBRARY",
                    $"{Describe(package.Kind)} found in {package.Location}");
                related.Add(id);
            }
            json.WriteEndArray();

            json.WriteStartArray("relationships");
            WriteRelationship(json, "SPDXRef-DOCUMENT", "DESCRIBES", ImageId);
            foreach (var id in related)
            {
                WriteRelationship(json, ImageId, "CONTAINS", id);
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    private static string Describe(PackageKind kind) => kind switch
    {
        PackageKind.Dpkg => "dpkg package",
        PackageKind.Apk => "apk package",
        PackageKind.Conda => "conda package",
        _ => "python distribution",
    };

    private static string PackageId(string purl, string location) =>
        "SPDXRef-Package-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(purl + "\n" + location)))[..16];

    private static void WritePackage(Utf8JsonWriter json, string id, string name, string? version, string? purl, string purpose, string? sourceInfo)
    {
        json.WriteStartObject();
        json.WriteString("name", name);
        json.WriteString("SPDXID", id);
        if (version is not null)
        {
            json.WriteString("versionInfo", version);
        }
        json.WriteString("downloadLocation", "NOASSERTION");
        json.WriteBoolean("filesAnalyzed", false);
        json.WriteString("licenseConcluded", "NOASSERTION");
        json.WriteString("licenseDeclared", "NOASSERTION");
        json.WriteString("copyrightText", "NOASSERTION");
        if (sourceInfo is not null)
        {
            json.WriteString("sourceInfo", sourceInfo);
        }
        json.WriteString("primaryPackagePurpose", purpose);
        if (purl is not null)
        {
            json.WriteStartArray("externalRefs");
            json.WriteStartObject();
            json.WriteString("referenceCategory", "PACKAGE-MANAGER");
            json.WriteString("referenceType", "purl");
            json.WriteString("referenceLocator", purl);
            json.WriteEndObject();
            json.WriteEndArray();
        }
        json.WriteEndObject();
    }

    private static void WriteRelationship(Utf8JsonWriter json, string from, string type, string to)
    {
        json.WriteStartObject();
        json.WriteString("spdxElementId", from);
        json.WriteString("relationshipType", type);
        json.WriteString("relatedSpdxElement", to);
        json.WriteEndObject();
    }
}
