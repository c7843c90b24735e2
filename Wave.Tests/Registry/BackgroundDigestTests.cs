using System.Buffers;
using System.Security.Cryptography;

using Wave.RegistryProxy.Content;

namespace Wave.Tests.Registry;

public sealed class BackgroundDigestTests
{
    [Fact]
    public async Task Pieces_of_uneven_sizes_hash_in_the_order_they_were_handed_over()
    {
        var blob = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);
        var sizes = new Random(7);
        await using var digest = new BackgroundDigest(cache: null);
        var offset = 0;
        while (blob.Length - offset > 64 * 1024)
        {
            var count = sizes.Next(1, 64 * 1024);
            var piece = ArrayPool<byte>.Shared.Rent(count);
            blob.AsSpan(offset, count).CopyTo(piece);
            await digest.AddAsync(piece, count, CancellationToken.None);
            offset += count;
        }

        var actual = await digest.CompleteAsync(blob.AsMemory(offset));

        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(blob)), actual);
    }

    [Fact]
    public async Task An_empty_blob_has_the_digest_of_no_bytes()
    {
        await using var digest = new BackgroundDigest(cache: null);

        Assert.Equal("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", await digest.CompleteAsync(ReadOnlyMemory<byte>.Empty));
    }
}
