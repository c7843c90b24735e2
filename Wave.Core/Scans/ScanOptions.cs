namespace Wave.Core.Scans;

/// <summary>Security scans: <c>Wave:Scan:*</c>. Scans are enabled by naming a vulnerability database; without one, a request asking for a scan is refused (501).</summary>
public sealed class ScanOptions
{
    public const string Section = "Wave:Scan";
    public const string DatabaseSetting = "Wave:Scan:VulnerabilityDatabase";

    /// <summary>A folder, <c>.zip</c>, <c>.tar.gz</c>/<c>.tgz</c> or <c>.tar</c> of OSV JSON advisories.</summary>
    public string? VulnerabilityDatabase { get; set; }

    /// <summary>Findings kept in a scan record, the most severe first (the counts by severity cover them all).</summary>
    public int VulnerabilityLimit { get; set; } = 100;

    /// <summary>A scan running longer fails, "timed out".</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Scans one process runs at once.</summary>
    public int Concurrency { get; set; } = 2;

    /// <summary>How long a succeeded scan of an image answers later requests for the same image before it is made again.</summary>
    public TimeSpan ReuseFor { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How old a pending scan's heartbeat may get before another process takes the scan over (its runner is taken to be dead).</summary>
    public TimeSpan LeaseTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How often a process looks for pending scans nobody runs.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a scan of a build's image looks whether the build has completed.</summary>
    public TimeSpan BuildPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    public bool Enabled => !string.IsNullOrWhiteSpace(VulnerabilityDatabase);

    /// <summary>The 501 message of a request that asks for a scan this deployment cannot make.</summary>
    public static string NotEnabledMessage(ScanMode mode) =>
        $"scanMode '{mode.ToWire()}' needs container security scans, which this Wave service does not make: " +
        $"set {DatabaseSetting} to a folder or archive of OSV vulnerability advisories";
}
