using System.Security.Cryptography;

namespace Wave.Core.Registry;

/// <summary>Digest checks for content read from a registry (kept here so the client stands on its own).</summary>
internal static class ContentDigest
{
    public static string Sha256(ReadOnlySpan<byte> content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    public static bool LooksLikeDigest(string reference) => reference.Contains(':', StringComparison.Ordinal);

    /// <summary>True when <paramref name="content"/> has <paramref name="digest"/>; false for a mismatch or an algorithm we cannot check.</summary>
    public static bool Matches(string digest, ReadOnlySpan<byte> content)
    {
        var separator = digest.IndexOf(':', StringComparison.Ordinal);
        if (separator <= 0)
        {
            return false;
        }
        var expected = digest[(separator + 1)..];
        var actual = digest[..separator] switch
        {
            "sha256" => Convert.ToHexStringLower(SHA256.HashData(content)),
            "sha512" => Convert.ToHexStringLower(SHA512.HashData(content)),
            _ => null,
        };
        return actual is not null && string.Equals(actual, expected, StringComparison.Ordinal);
    }
}
