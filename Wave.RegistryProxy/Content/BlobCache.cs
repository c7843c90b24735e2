using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

using Microsoft.Extensions.Options;

using Wave.Core.Digests;

namespace Wave.RegistryProxy.Content;

/// <summary><c>Wave:Proxy:BlobCache</c>: upstream layers kept on the proxy's disk once they verified.</summary>
public sealed class BlobCacheOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>Where the files live; by default <c>blob-cache</c> in <c>Wave:DataDirectory</c> (<c>.wave</c>).</summary>
    public string Directory { get; set; } = "";

    /// <summary>The most the files may take together; the least recently served go first.</summary>
    public long MaxBytes { get; set; } = 10L * 1024 * 1024 * 1024;
}

/// <summary>
/// Upstream blobs on local disk, written while a pull streams them and kept only once their bytes hashed to their
/// digest, so a repeated pull of a layer is served from disk: no upstream round trip, no hashing, and it still works
/// while the upstream is down. Content is stored once per digest; a blob is served only for a repository it was
/// verified in (a marker per registry and repository), so a digest learned elsewhere does not open a private layer.
/// Several processes may share the folder: every file appears by an atomic rename and a missing one is a miss.
/// </summary>
public sealed class BlobCache
{
    private readonly BlobCacheOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<BlobCache> _logger;
    private readonly string _contentDirectory;
    private readonly string _repositoryDirectory;
    private readonly string _partialDirectory;
    private readonly bool _enabled;
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _writing = new(StringComparer.Ordinal);
    private readonly Lock _evicting = new();
    private long _totalBytes;

    private sealed class Entry(long bytes, long lastUsed)
    {
        public long Bytes { get; } = bytes;
        public long LastUsed = lastUsed;
    }

    public BlobCache(IOptions<BlobCacheOptions> options, TimeProvider time, ILogger<BlobCache> logger)
    {
        _options = options.Value;
        _time = time;
        _logger = logger;
        var root = Path.GetFullPath(_options.Directory);
        _contentDirectory = Path.Combine(root, "sha256");
        _repositoryDirectory = Path.Combine(root, "repositories");
        _partialDirectory = Path.Combine(root, "partial");
        if (!_options.Enabled)
        {
            return;
        }
        _enabled = true;
        try
        {
            System.IO.Directory.CreateDirectory(_contentDirectory);
            System.IO.Directory.CreateDirectory(_repositoryDirectory);
            System.IO.Directory.CreateDirectory(_partialDirectory);
            Load();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("The blob cache in {Directory} cannot be used, layers are streamed from their registries only: {Message}", root, e.Message);
            _enabled = false;
        }
    }

    public long TotalBytes => Interlocked.Read(ref _totalBytes);

    /// <summary>A cached blob: the open file and its length. The caller disposes the stream.</summary>
    public sealed record Hit(FileStream Content, long Length);

    /// <summary>The blob's file when it was verified for this registry and repository before; otherwise null.</summary>
    public Hit? TryOpen(string registry, string repository, string digest)
    {
        if (!_enabled || HexOf(digest) is not { } hex || !File.Exists(MarkerPath(registry, repository, hex)))
        {
            return null;
        }
        try
        {
            var file = new FileStream(Path.Combine(_contentDirectory, hex), new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.Read | FileShare.Delete,
                Options = FileOptions.SequentialScan,
                BufferSize = 0,
            });
            Track(hex, file.Length); // also a file another process sharing the folder wrote
            return new Hit(file, file.Length);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            Forget(hex); // evicted, by this process or another sharing the folder
            return null;
        }
    }

    /// <summary>
    /// A writer for a blob about to be streamed, or null when caching is off, the blob is too large to keep, or another
    /// pull in this process is writing it already (a burst of pulls of one layer writes it once, not once per pull).
    /// </summary>
    public Writer? StartWriting(string registry, string repository, string digest, long? length)
    {
        if (!_enabled || HexOf(digest) is not { } hex || length > _options.MaxBytes || !_writing.TryAdd(hex, 0))
        {
            return null;
        }
        try
        {
            var partial = Path.Combine(_partialDirectory, $"{hex}.{Guid.NewGuid():N}");
            // Synchronous writes: each is a copy into the page cache, cheaper than handing it to another thread.
            var file = new FileStream(partial, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Options = FileOptions.SequentialScan,
                BufferSize = 0,
            });
            return new Writer(this, file, partial, hex, MarkerPath(registry, repository, hex));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _writing.TryRemove(hex, out _);
            _logger.LogWarning("Blob {Digest} is not cached: {Message}", digest, e.Message);
            return null;
        }
    }

    /// <summary>
    /// Bytes of one blob as they stream past. Nothing is visible in the cache until <see cref="CommitAsync"/> (called
    /// only for bytes that verified); a write that fails (a full disk) ends caching of this blob, never the pull.
    /// </summary>
    public sealed class Writer : IAsyncDisposable
    {
        private readonly BlobCache _cache;
        private readonly string _partial;
        private readonly string _hex;
        private readonly string _marker;
        private FileStream? _file;
        private long _written;

        internal Writer(BlobCache cache, FileStream file, string partial, string hex, string marker)
        {
            _cache = cache;
            _file = file;
            _partial = partial;
            _hex = hex;
            _marker = marker;
        }

        public void Write(ReadOnlySpan<byte> bytes)
        {
            if (_file is null)
            {
                return;
            }
            try
            {
                _file.Write(bytes);
                _written += bytes.Length;
                if (_written > _cache._options.MaxBytes)
                {
                    Abandon();
                }
            }
            catch (IOException e)
            {
                _cache._logger.LogWarning("Blob sha256:{Digest} is not cached: {Message}", _hex, e.Message);
                Abandon();
            }
        }

        /// <summary>The bytes verified against the digest: the blob becomes servable for its repository.</summary>
        public async ValueTask CommitAsync()
        {
            if (_file is null)
            {
                return;
            }
            try
            {
                await _file.DisposeAsync();
                _file = null;
                File.Move(_partial, Path.Combine(_cache._contentDirectory, _hex), overwrite: true);
                Directory.CreateDirectory(Path.GetDirectoryName(_marker)!);
                await File.WriteAllBytesAsync(_marker, []);
                _cache.Added(_hex, _written);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _cache._logger.LogWarning("Blob sha256:{Digest} is not cached: {Message}", _hex, e.Message);
                Abandon();
            }
        }

        private void Abandon()
        {
            _file?.Dispose();
            _file = null;
            File.Delete(_partial);
        }

        public ValueTask DisposeAsync()
        {
            Abandon();
            _cache._writing.TryRemove(_hex, out _);
            return ValueTask.CompletedTask;
        }
    }

    private void Added(string hex, long bytes)
    {
        Track(hex, bytes);
        if (TotalBytes > _options.MaxBytes)
        {
            Evict();
        }
    }

    /// <summary>Counts a blob once and marks it as just served.</summary>
    private void Track(string hex, long bytes)
    {
        if (_entries.TryGetValue(hex, out var entry))
        {
            entry.LastUsed = _time.GetTimestamp();
        }
        else if (_entries.TryAdd(hex, new Entry(bytes, _time.GetTimestamp())))
        {
            Interlocked.Add(ref _totalBytes, bytes);
        }
    }

    /// <summary>Least recently served first, down to 90% of the limit, so that eviction does not run on every insert.</summary>
    private void Evict()
    {
        lock (_evicting)
        {
            var target = _options.MaxBytes / 10 * 9;
            var evicted = new List<string>();
            foreach (var (hex, _) in _entries.OrderBy(e => e.Value.LastUsed).ToList())
            {
                if (TotalBytes <= target)
                {
                    break;
                }
                try
                {
                    File.Delete(Path.Combine(_contentDirectory, hex));
                }
                catch (IOException e)
                {
                    _logger.LogWarning("Cached blob sha256:{Digest} could not be deleted: {Message}", hex, e.Message);
                    continue;
                }
                Forget(hex);
                evicted.Add(hex);
            }
            ForgetMarkers(evicted);
        }
    }

    /// <summary>The evicted blobs' repository markers, so that they do not pile up over the cache's life.</summary>
    private void ForgetMarkers(List<string> evicted)
    {
        if (evicted.Count == 0)
        {
            return;
        }
        foreach (var repository in System.IO.Directory.EnumerateDirectories(_repositoryDirectory))
        {
            foreach (var hex in evicted)
            {
                File.Delete(Path.Combine(repository, hex));
            }
        }
    }

    private void Forget(string hex)
    {
        if (_entries.TryRemove(hex, out var entry))
        {
            Interlocked.Add(ref _totalBytes, -entry.Bytes);
        }
    }

    /// <summary>What an earlier run left: the blobs (all counted as equally old) and partial files an hour old.</summary>
    private void Load()
    {
        foreach (var file in new DirectoryInfo(_contentDirectory).EnumerateFiles())
        {
            Track(file.Name, file.Length);
        }
        var stale = _time.GetUtcNow().UtcDateTime - TimeSpan.FromHours(1);
        foreach (var file in new DirectoryInfo(_partialDirectory).EnumerateFiles().Where(f => f.LastWriteTimeUtc < stale))
        {
            file.Delete();
        }
        if (_totalBytes > _options.MaxBytes)
        {
            Evict();
        }
    }

    private string MarkerPath(string registry, string repository, string hex)
    {
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(registry + "/" + repository)))[..32];
        return Path.Combine(_repositoryDirectory, key, hex);
    }

    private static string? HexOf(string digest) => Digest.IsValid(digest) ? digest[Digest.Sha256Prefix.Length..] : null;
}
