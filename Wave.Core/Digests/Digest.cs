using System.Buffers;
using System.Security.Cryptography;

namespace Wave.Core.Digests;

/// <summary>OCI content digests (<c>sha256:&lt;64 hex&gt;</c>).</summary>
public static class Digest
{
    public const string Sha256Prefix = "sha256:";

    public static string Sha256(ReadOnlySpan<byte> content) => Sha256Prefix + Convert.ToHexStringLower(SHA256.HashData(content));

    public static async Task<string> Sha256Async(Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            int read;
            while ((read = await content.ReadAsync(buffer.AsMemory(), cancellationToken).ConfigureAwait(false)) > 0)
            {
                hash.AppendData(buffer, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return Sha256Prefix + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// True for a digest of an algorithm registries accept (sha256, sha384, sha512) with the right number of
    /// lower-case hex digits: what a descriptor may carry, and safe to put into a URL path.
    /// </summary>
    public static bool IsWellFormed(string? digest)
    {
        var colon = digest?.IndexOf(':') ?? -1;
        if (colon < 0)
        {
            return false;
        }
        var length = digest![..colon] switch
        {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ => -1,
        };
        var hex = digest.AsSpan(colon + 1);
        return hex.Length == length && !hex.ContainsAnyExcept("0123456789abcdef");
    }

    /// <summary>True for a well-formed sha256 digest with lower-case hex.</summary>
    public static bool IsValid(string? digest) =>
        digest is { Length: 71 }
        && digest.StartsWith(Sha256Prefix, StringComparison.Ordinal)
        && digest.AsSpan(Sha256Prefix.Length).ContainsAnyExcept("0123456789abcdef") is false;

    /// <summary>True when <paramref name="content"/> hashes to <paramref name="digest"/> (sha256 or sha512); false for a mismatch or an algorithm Wave cannot check.</summary>
    public static bool Matches(string digest, ReadOnlySpan<byte> content)
    {
        var separator = digest.IndexOf(':', StringComparison.Ordinal);
        if (separator <= 0)
        {
            return false;
        }
        var actual = digest[..separator] switch
        {
            "sha256" => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content)),
            "sha512" => Convert.ToHexStringLower(System.Security.Cryptography.SHA512.HashData(content)),
            _ => null,
        };
        return actual is not null && string.Equals(actual, digest[(separator + 1)..], StringComparison.Ordinal);
    }
}
