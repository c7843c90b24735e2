using System.Diagnostics.CodeAnalysis;

namespace Wave.Core.Scans;

/// <summary>
/// The severities a finding can have, as the Wave API names them: the levels a request may allow (<c>scanLevels</c>)
/// are LOW, MEDIUM, HIGH and CRITICAL; UNKNOWN is a finding whose advisory states no severity Wave can read, and no
/// request can allow it.
/// </summary>
public static class ScanLevel
{
    public const string Low = "LOW";
    public const string Medium = "MEDIUM";
    public const string High = "HIGH";
    public const string Critical = "CRITICAL";
    public const string Unknown = "UNKNOWN";

    /// <summary>The levels a request may name, least severe first.</summary>
    public static readonly IReadOnlyList<string> Allowable = [Low, Medium, High, Critical];

    /// <summary>Most severe first: CRITICAL 4 … LOW 1, UNKNOWN 0.</summary>
    public static int Rank(string? severity) => severity switch
    {
        Critical => 4,
        High => 3,
        Medium => 2,
        Low => 1,
        _ => 0,
    };

    /// <summary>A requested level, in any case (<c>low</c>, <c>HIGH</c>); false for anything else.</summary>
    public static bool TryParse(string? value, [NotNullWhen(true)] out string? level)
    {
        level = value?.Trim().ToUpperInvariant() switch
        {
            Low => Low,
            Medium => Medium,
            High => High,
            Critical => Critical,
            _ => null,
        };
        return level is not null;
    }

    /// <summary>
    /// <c>scanLevels</c> as a request sends it, normalised; the error names the field and the value it cannot read.
    /// Null or empty means that no vulnerability is allowed.
    /// </summary>
    public static bool TryParseList(IEnumerable<string?>? values, out IReadOnlyList<string> levels, [NotNullWhen(false)] out string? error)
    {
        var result = new List<string>();
        foreach (var value in values ?? [])
        {
            if (!TryParse(value, out var level))
            {
                levels = [];
                error = $"scanLevels: '{value}' is not a scan level (one of {string.Join(", ", Allowable)})";
                return false;
            }
            if (!result.Contains(level))
            {
                result.Add(level);
            }
        }
        levels = result;
        error = null;
        return true;
    }

    /// <summary>
    /// A vendor's rating in words (OSV <c>database_specific.severity</c>, GitHub's MODERATE, Debian's unimportant,
    /// Ubuntu's negligible) as a Wave level; UNKNOWN for words it does not know.
    /// </summary>
    public static string FromText(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "critical" => Critical,
        "high" or "important" => High,
        "medium" or "moderate" => Medium,
        "low" or "negligible" or "unimportant" or "minor" => Low,
        _ => Unknown,
    };

    /// <summary>A CVSS base score as a level, by the CVSS v3 qualitative ratings (0.1–3.9 LOW … 9.0–10.0 CRITICAL); 0 is no severity.</summary>
    public static string FromScore(double score) => score switch
    {
        >= 9.0 => Critical,
        >= 7.0 => High,
        >= 4.0 => Medium,
        > 0 => Low,
        _ => Unknown,
    };
}
