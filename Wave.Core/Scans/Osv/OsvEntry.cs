using System.Text.Json;

namespace Wave.Core.Scans.Osv;

/// <summary>One OSV range event; exactly one of the values is set.</summary>
public sealed record OsvEvent(string? Introduced, string? Fixed, string? LastAffected, string? Limit);

/// <summary>An OSV range: <c>ECOSYSTEM</c>, <c>SEMVER</c> or <c>GIT</c> (git ranges name commits, which an image does not carry).</summary>
public sealed record OsvRange(string Type, IReadOnlyList<OsvEvent> Events);

/// <summary>An OSV <c>severity</c> item: <c>CVSS_V2</c>, <c>CVSS_V3</c>, <c>CVSS_V4</c> or <c>Ubuntu</c>, with its vector or rating.</summary>
public sealed record OsvSeverity(string Type, string Score);

public sealed record OsvReference(string Type, string Url);

/// <summary>
/// One <c>affected[]</c> item: the package (<c>ecosystem</c> such as <c>Debian:12</c>, <c>Alpine:v3.19</c>, <c>PyPI</c>),
/// its ranges and explicit versions, and a severity the database states for this package
/// (<c>database_specific.severity</c> or <c>ecosystem_specific.severity</c>).
/// </summary>
public sealed record OsvAffected(string Ecosystem, string Name, IReadOnlyList<OsvRange> Ranges, IReadOnlyList<string> Versions,
    IReadOnlyList<OsvSeverity> Severity, string? StatedSeverity);

/// <summary>An OSV advisory, with the fields a scan uses (OSV schema 1.x).</summary>
public sealed record OsvEntry(string Id, string? Summary, string? Details, IReadOnlyList<string> Aliases, IReadOnlyList<OsvSeverity> Severity,
    string? StatedSeverity, IReadOnlyList<OsvReference> References, IReadOnlyList<OsvAffected> Affected, bool Withdrawn)
{
    /// <summary>Reads one OSV JSON document; a document that is not an OSV advisory is a <see cref="FormatException"/> naming what is wrong.</summary>
    public static OsvEntry Parse(ReadOnlySpan<byte> json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new FormatException($"not JSON: {e.Message}", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("an OSV entry is a JSON object");
            }
            var id = String(root, "id") ?? throw new FormatException("no 'id'");
            var affected = new List<OsvAffected>();
            foreach (var item in Array(root, "affected"))
            {
                if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("package", out var package) || package.ValueKind != JsonValueKind.Object)
                {
                    continue; // an affected item without a package names commits only
                }
                var ecosystem = String(package, "ecosystem");
                var name = String(package, "name");
                if (ecosystem is null || name is null)
                {
                    continue;
                }
                var ranges = new List<OsvRange>();
                foreach (var range in Array(item, "ranges"))
                {
                    var type = String(range, "type");
                    if (type is null)
                    {
                        continue;
                    }
                    var events = new List<OsvEvent>();
                    foreach (var e in Array(range, "events"))
                    {
                        events.Add(new OsvEvent(String(e, "introduced"), String(e, "fixed"), String(e, "last_affected"), String(e, "limit")));
                    }
                    ranges.Add(new OsvRange(type, events));
                }
                var versions = Array(item, "versions").Where(v => v.ValueKind == JsonValueKind.String).Select(v => v.GetString()!).ToList();
                var stated = Nested(item, "database_specific", "severity") ?? Nested(item, "ecosystem_specific", "severity");
                affected.Add(new OsvAffected(ecosystem, name, ranges, versions, Severities(item), stated));
            }
            var references = Array(root, "references")
                .Select(r => (Type: String(r, "type"), Url: String(r, "url")))
                .Where(r => r.Url is not null)
                .Select(r => new OsvReference(r.Type ?? "WEB", r.Url!))
                .ToList();
            return new OsvEntry(id, String(root, "summary"), String(root, "details"),
                Array(root, "aliases").Where(a => a.ValueKind == JsonValueKind.String).Select(a => a.GetString()!).ToList(),
                Severities(root), Nested(root, "database_specific", "severity"), references, affected,
                root.TryGetProperty("withdrawn", out var withdrawn) && withdrawn.ValueKind == JsonValueKind.String);
        }
    }

    private static List<OsvSeverity> Severities(JsonElement element) => Array(element, "severity")
        .Select(s => (Type: String(s, "type"), Score: String(s, "score") ?? (s.TryGetProperty("score", out var n) && n.ValueKind == JsonValueKind.Number ? n.GetRawText() : null)))
        .Where(s => s.Type is not null && s.Score is not null)
        .Select(s => new OsvSeverity(s.Type!, s.Score!))
        .ToList();

    private static string? Nested(JsonElement element, string property, string inner) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Object ? String(value, inner) : null;

    private static string? String(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    private static IEnumerable<JsonElement> Array(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Array
            ? value.EnumerateArray()
            : [];
}
