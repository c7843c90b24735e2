using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace Wave.RegistryProxy.Content;

/// <summary><c>Wave:Proxy</c> settings.</summary>
public sealed class RegistryProxyOptions
{
    /// <summary>Bytes of manifests, configs and data: layers kept in process memory (entries are sized in bytes).</summary>
    public long MemoryCacheBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>How long a container request read from the shared store is reused before it is read again.</summary>
    public TimeSpan RequestCacheTime { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a pull of an image still being built waits for the build (the default build timeout, 900 s).</summary>
    public TimeSpan BuildWaitTimeout { get; set; } = TimeSpan.FromSeconds(900);

    /// <summary>The longest pause between two reads of a running build's record while pulls wait for it.</summary>
    public TimeSpan BuildPollInterval { get; set; } = TimeSpan.FromSeconds(2);
}

/// <summary>The proxy's own bounded memory cache (sized in bytes), apart from any other IMemoryCache in the host.</summary>
public sealed class ProxyMemoryCache(IOptions<RegistryProxyOptions> options) : IDisposable
{
    public IMemoryCache Cache { get; } = new MemoryCache(new MemoryCacheOptions { SizeLimit = options.Value.MemoryCacheBytes });

    public void Dispose() => Cache.Dispose();
}
