namespace Wave.Core.Scans;

/// <summary>The states of a scan, as the Wave API names them. A scan moves PENDING → SUCCEEDED or FAILED, and never back.</summary>
public static class ScanStatus
{
    public const string Pending = "PENDING";
    public const string Succeeded = "SUCCEEDED";
    public const string Failed = "FAILED";
}

/// <summary>Which request a scan was made for: a build, a mirror, or a container request (by its token).</summary>
public sealed record ScanOrigin(string? BuildId = null, string? MirrorId = null, string? RequestId = null)
{
    public static readonly ScanOrigin None = new();
}

/// <summary>
/// The durable record of one scan (<c>sc-&lt;key&gt;_&lt;attempt&gt;</c>). <see cref="Succeeded"/> says the scan ran to the
/// end, whatever it found; <see cref="Summary"/> counts every finding by severity, while <see cref="Vulnerabilities"/>
/// keeps at most the configured number of them, the most severe first. Timestamps have microsecond precision and the
/// duration millisecond precision in every store.
/// </summary>
public sealed record ScanRecord
{
    public required string Id { get; init; }
    public required string Key { get; init; }
    public int Attempt { get; init; } = 1;
    public string? BuildId { get; init; }
    public string? MirrorId { get; init; }
    public string? RequestId { get; init; }

    /// <summary>The image as scanned, pinned by digest when it was known (<c>host/repo:tag@sha256:…</c>).</summary>
    public required string ContainerImage { get; init; }

    public required string Platform { get; init; }
    public required DateTimeOffset StartTime { get; init; }
    public TimeSpan? Duration { get; init; }
    public string Status { get; init; } = ScanStatus.Pending;
    public IReadOnlyList<ScanVulnerability> Vulnerabilities { get; init; } = [];
    public IReadOnlyDictionary<string, int> Summary { get; init; } = new Dictionary<string, int>();
    public int? ExitCode { get; init; }
    public string? Logs { get; init; }

    /// <summary>How many packages the SBOM lists (null until the scan succeeded).</summary>
    public int? PackageCount { get; init; }

    public bool Done => Status != ScanStatus.Pending;

    public bool? Succeeded => Done ? Status == ScanStatus.Succeeded : null;
}

/// <summary>What a scan found: the findings, the SBOM and what the scan's log says.</summary>
public sealed record ScanOutcome(string Status, IReadOnlyList<ScanVulnerability> Vulnerabilities, IReadOnlyDictionary<string, int> Summary,
    int? PackageCount, byte[]? Spdx, string Logs, int? ExitCode)
{
    public static ScanOutcome Failure(string logs) => new(ScanStatus.Failed, [], new Dictionary<string, int>(), null, null, logs, 1);
}
