namespace Wave.Api.Containers;

/// <summary>Configuration section <c>Wave</c>: how tokens and target image names are made.</summary>
public sealed class ContainerRequestOptions
{
    /// <summary>The registry host put in targetImage (e.g. <c>wave.example.com</c>); by default the registry proxy's address.</summary>
    public string? PublicHost { get; set; }

    public TokenOptions Tokens { get; set; } = new();

    public ContainerRequestLimits Limits { get; set; } = new();
}

public sealed class TokenOptions
{
    /// <summary>How long a container token stays valid (default 36 h).</summary>
    public TimeSpan TimeToLive { get; set; } = TimeSpan.FromHours(36);

    /// <summary>
    /// How long an upstream image resolved for one request is reused for the next requests of the same image
    /// (default zero: off, every request asks the registry). When set, a burst of requests for one tag costs one
    /// registry round trip, but a tag moved or a registry gone is only noticed after this long.
    /// </summary>
    public TimeSpan UpstreamCacheTime { get; set; } = TimeSpan.Zero;
}

/// <summary><c>Wave:Limits</c>: what a container request may carry.</summary>
public sealed class ContainerRequestLimits
{
    /// <summary>The whole request body, in bytes.</summary>
    public long MaxRequestBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>All data: layers of one request together, decoded, in bytes.</summary>
    public long MaxInlineLayerBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>The uncompressed tar of one data: layer, in bytes (a gzip bomb stops here).</summary>
    public long MaxLayerTarBytes { get; set; } = 512L * 1024 * 1024;

    public int MaxLayers { get; set; } = 32;
}
