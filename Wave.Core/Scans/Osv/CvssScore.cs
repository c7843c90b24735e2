using System.Globalization;

namespace Wave.Core.Scans.Osv;

/// <summary>
/// CVSS base scores from the vectors OSV carries, computed with the equations of the CVSS v3.1 and v2 specifications
/// (v3.0 vectors use the v3.1 equations, which differ only in rounding). CVSS v4 scores come from the specification's
/// table of macro vectors rather than an equation and are not computed: a v4-only advisory takes its severity from the
/// database's own rating, or is UNKNOWN. No NuGet package computes CVSS scores here.
/// </summary>
public static class CvssScore
{
    public static double? BaseScore(string type, string score)
    {
        if (double.TryParse(score, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return number is >= 0 and <= 10 ? number : null;
        }
        return type switch
        {
            "CVSS_V3" => V3(score),
            "CVSS_V2" => V2(score),
            _ => null,
        };
    }

    private static Dictionary<string, string>? Metrics(string vector, int skip)
    {
        var metrics = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in vector.Trim().Split('/').Skip(skip))
        {
            var colon = part.IndexOf(':');
            if (colon <= 0 || !metrics.TryAdd(part[..colon], part[(colon + 1)..]))
            {
                return null;
            }
        }
        return metrics;
    }

    private static double? V3(string vector)
    {
        if (!vector.StartsWith("CVSS:3.", StringComparison.Ordinal) || Metrics(vector, 1) is not { } m)
        {
            return null;
        }
        var changed = m.GetValueOrDefault("S") switch { "U" => false, "C" => true, _ => (bool?)null };
        double? av = m.GetValueOrDefault("AV") switch { "N" => 0.85, "A" => 0.62, "L" => 0.55, "P" => 0.2, _ => null };
        double? ac = m.GetValueOrDefault("AC") switch { "L" => 0.77, "H" => 0.44, _ => null };
        double? pr = m.GetValueOrDefault("PR") switch { "N" => 0.85, "L" => changed == true ? 0.68 : 0.62, "H" => changed == true ? 0.5 : 0.27, _ => null };
        double? ui = m.GetValueOrDefault("UI") switch { "N" => 0.85, "R" => 0.62, _ => null };
        static double? Impact(string? value) => value switch { "H" => 0.56, "L" => 0.22, "N" => 0, _ => null };
        var c = Impact(m.GetValueOrDefault("C"));
        var i = Impact(m.GetValueOrDefault("I"));
        var a = Impact(m.GetValueOrDefault("A"));
        if (changed is null || av is null || ac is null || pr is null || ui is null || c is null || i is null || a is null)
        {
            return null;
        }
        var iss = 1 - ((1 - c.Value) * (1 - i.Value) * (1 - a.Value));
        var impact = changed.Value ? (7.52 * (iss - 0.029)) - (3.25 * Math.Pow(iss - 0.02, 15)) : 6.42 * iss;
        var exploitability = 8.22 * av.Value * ac.Value * pr.Value * ui.Value;
        if (impact <= 0)
        {
            return 0;
        }
        return RoundUp(Math.Min(changed.Value ? 1.08 * (impact + exploitability) : impact + exploitability, 10));
    }

    /// <summary>CVSS v3.1 Roundup: the smallest number with one decimal that is not below the input, free of floating-point noise.</summary>
    private static double RoundUp(double value)
    {
        var scaled = (long)Math.Round(value * 100000);
        return scaled % 10000 == 0 ? scaled / 100000.0 : (Math.Floor(scaled / 10000.0) + 1) / 10.0;
    }

    private static double? V2(string vector)
    {
        var text = vector.Trim();
        if (text.StartsWith('('))
        {
            text = text.Trim('(', ')');
        }
        if (Metrics(text, text.StartsWith("CVSS:2", StringComparison.Ordinal) ? 1 : 0) is not { } m)
        {
            return null;
        }
        double? av = m.GetValueOrDefault("AV") switch { "L" => 0.395, "A" => 0.646, "N" => 1.0, _ => null };
        double? ac = m.GetValueOrDefault("AC") switch { "H" => 0.35, "M" => 0.61, "L" => 0.71, _ => null };
        double? au = m.GetValueOrDefault("Au") switch { "M" => 0.45, "S" => 0.56, "N" => 0.704, _ => null };
        static double? Impact(string? value) => value switch { "N" => 0, "P" => 0.275, "C" => 0.660, _ => null };
        var c = Impact(m.GetValueOrDefault("C"));
        var i = Impact(m.GetValueOrDefault("I"));
        var a = Impact(m.GetValueOrDefault("A"));
        if (av is null || ac is null || au is null || c is null || i is null || a is null)
        {
            return null;
        }
        var impact = 10.41 * (1 - ((1 - c.Value) * (1 - i.Value) * (1 - a.Value)));
        var exploitability = 20 * av.Value * ac.Value * au.Value;
        var f = impact == 0 ? 0 : 1.176;
        return Math.Round(((0.6 * impact) + (0.4 * exploitability) - 1.5) * f, 1, MidpointRounding.AwayFromZero);
    }
}
