using System.Buffers;
using System.Security.Cryptography;
using System.Threading.Channels;

namespace Wave.RegistryProxy.Content;

/// <summary>
/// The sha256 of a blob streaming through the proxy, computed (and the bytes written to the blob cache) on a thread
/// of its own, in the order the pieces were handed over. Hashing costs about as much CPU as the whole transfer, so
/// done between two reads it halves the rate; done beside them it overlaps the network copy.
/// </summary>
public sealed class BackgroundDigest : IAsyncDisposable
{
    // Pieces handed over but not yet hashed: enough to keep the hashing thread busy, little enough that a slow disk
    // holds back the copy instead of buffering the blob in memory.
    private const int PiecesInFlight = 4;

    private readonly Channel<(byte[] Buffer, int Count)> _pieces = Channel.CreateBounded<(byte[] Buffer, int Count)>(
        new BoundedChannelOptions(PiecesInFlight) { SingleReader = true, SingleWriter = true });
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly BlobCache.Writer? _cache;
    private readonly Task _worker;

    public BackgroundDigest(BlobCache.Writer? cache)
    {
        _cache = cache;
        _worker = Task.Run(ConsumeAsync);
    }

    /// <summary>Hands over a buffer rented from <see cref="ArrayPool{T}.Shared"/>: it is returned there once hashed.</summary>
    public async ValueTask AddAsync(byte[] rented, int count, CancellationToken cancellationToken)
    {
        try
        {
            await _pieces.Writer.WriteAsync((rented, count), cancellationToken);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(rented);
            throw;
        }
    }

    /// <summary>
    /// Waits for every piece handed over, then hashes the last one on the calling thread (it is not taken over) and
    /// returns the digest of the whole, <c>sha256:&lt;hex&gt;</c>.
    /// </summary>
    public async ValueTask<string> CompleteAsync(ReadOnlyMemory<byte> last)
    {
        _pieces.Writer.TryComplete();
        await _worker;
        Append(last.Span);
        return "sha256:" + Convert.ToHexStringLower(_hash.GetHashAndReset());
    }

    private async Task ConsumeAsync()
    {
        Exception? failure = null;
        await foreach (var (buffer, count) in _pieces.Reader.ReadAllAsync())
        {
            try
            {
                if (failure is null)
                {
                    Append(buffer.AsSpan(0, count));
                }
            }
            catch (Exception e)
            {
                // Stop taking pieces (the copy's next AddAsync throws this) but keep returning the queued buffers.
                failure = e;
                _pieces.Writer.TryComplete(e);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        if (failure is not null)
        {
            throw failure;
        }
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        _hash.AppendData(bytes);
        _cache?.Write(bytes);
    }

    public async ValueTask DisposeAsync()
    {
        _pieces.Writer.TryComplete();
        try
        {
            await _worker;
        }
        catch (Exception) when (_worker.IsFaulted)
        {
            // Already surfaced to the copy, by AddAsync or CompleteAsync.
        }
        _hash.Dispose();
    }
}
