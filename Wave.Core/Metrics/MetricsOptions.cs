namespace Wave.Core.Metrics;

/// <summary><c>Wave:Metrics</c>.</summary>
public sealed class MetricsOptions
{
    /// <summary>Who may read the metrics API (HTTP Basic).</summary>
    public List<MetricsAccount> Accounts { get; set; } = [];

    /// <summary>Layers whose location is on this host make a pull a Fusion pull (e.g. <c>fusionfs.seqera.io</c>).</summary>
    public string? FusionHost { get; set; }
}

public sealed class MetricsAccount
{
    public string UserName { get; set; } = "";

    /// <summary>A <see cref="Security.PasswordHash"/> (<c>pbkdf2-sha256$…</c>), never the password.</summary>
    public string PasswordHash { get; set; } = "";
}
