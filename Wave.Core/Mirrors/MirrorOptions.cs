namespace Wave.Core.Mirrors;

/// <summary>Container mirroring (configuration section <see cref="Section"/>).</summary>
public sealed class MirrorOptions
{
    public const string Section = "Wave:Mirror";

    /// <summary>The Wave server's <c>wave.mirror.max-duration</c> default.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(20);

    /// <summary>Whether this service mirrors (it also needs builders: copies run there, <c>Wave:Build:Enabled</c>).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The longest one copy may take before it is ended as failed.</summary>
    public TimeSpan Timeout { get; set; } = DefaultTimeout;

    /// <summary>Blobs one copy transfers at the same time.</summary>
    public int ParallelBlobs { get; set; } = 4;

    /// <summary>Where a builder keeps a blob between its download and its upload; default: a folder in the system's temp.</summary>
    public string? WorkDirectory { get; set; }

    public void Validate()
    {
        if (Timeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "Wave:Mirror:Timeout must be positive");
        }
        if (ParallelBlobs is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(ParallelBlobs), ParallelBlobs, "Wave:Mirror:ParallelBlobs must be between 1 and 64");
        }
    }
}
