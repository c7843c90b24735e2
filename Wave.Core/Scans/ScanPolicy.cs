namespace Wave.Core.Scans;

/// <summary>Whether a scan lets a container through: <see cref="Passed"/> null while the scan runs; a reason when it did not pass, or passed with findings.</summary>
public sealed record ScanVerdict(bool? Passed, string? Reason, IReadOnlyList<string> DisallowedLevels)
{
    public static readonly ScanVerdict Pending = new(null, null, []);
}

/// <summary>
/// The Wave API's rule for <c>scanMode: required</c>: a container passes when its scan completed and every severity
/// it found is one of the request's <c>scanLevels</c>. No levels allow nothing, so any finding fails; a scan that
/// could not complete fails too.
/// </summary>
public static class ScanPolicy
{
    public static ScanVerdict Evaluate(ScanRecord scan, IReadOnlyCollection<string>? allowedLevels)
    {
        ArgumentNullException.ThrowIfNull(scan);
        if (!scan.Done)
        {
            return ScanVerdict.Pending;
        }
        if (scan.Status != ScanStatus.Succeeded)
        {
            return new ScanVerdict(false, $"the security scan {scan.Id} of the container did not complete", []);
        }
        var allowed = new HashSet<string>(allowedLevels ?? [], StringComparer.OrdinalIgnoreCase);
        var found = scan.Summary.Where(s => s.Value > 0).Select(s => s.Key).OrderByDescending(ScanLevel.Rank).ToList();
        var disallowed = found.Where(level => !allowed.Contains(level)).ToList();
        if (disallowed.Count > 0)
        {
            var counts = string.Join(", ", disallowed.Select(level => $"{scan.Summary[level]} {level}"));
            return new ScanVerdict(false,
                $"the security scan {scan.Id} found vulnerabilities of a severity the request does not allow: {counts} " +
                $"(allowed scanLevels: {(allowed.Count == 0 ? "none" : string.Join(", ", ScanLevel.Allowable.Where(allowed.Contains)))})",
                disallowed);
        }
        return found.Count > 0
            ? new ScanVerdict(true, $"the security scan {scan.Id} found vulnerabilities only of allowed severities: {string.Join(", ", found.Select(level => $"{scan.Summary[level]} {level}"))}", [])
            : new ScanVerdict(true, null, []);
    }
}
