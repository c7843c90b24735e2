using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Wave.Core.Scans;

/// <summary>
/// Scan ids as Wave prints them: <c>sc-&lt;key&gt;_&lt;attempt&gt;</c>, where the key (16 lower-case hex digits) names what
/// is scanned (the image, pinned by its manifest digest, and the platform) and the attempt counts the scans of that
/// key from 1. Every request for the same image shares its scan while it is valid; a failed scan is made again under
/// the next attempt.
/// </summary>
public static class ScanId
{
    public const string Prefix = "sc-";
    public const int KeyLength = 16;

    /// <summary>
    /// The key of an image: 64 bits of a SHA-256 over <c>wave-scan-id 1</c>, the image name, its manifest digest and
    /// the platform, each written as <c>name length:value\n</c> (no escaping, no ambiguity).
    /// </summary>
    public static string Key(string image, string? digest, string platform)
    {
        var text = new StringBuilder();
        Append(text, "wave-scan-id", "1");
        Append(text, "image", image);
        Append(text, "digest", digest ?? "");
        Append(text, "platform", platform);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..KeyLength];
    }

    public static string Format(string key, int attempt)
    {
        if (!IsKey(key))
        {
            throw new ArgumentException($"'{key}' is not a scan key ({KeyLength} lower-case hex digits)", nameof(key));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        return string.Create(CultureInfo.InvariantCulture, $"{Prefix}{key}_{attempt}");
    }

    /// <summary>Splits a scan id into key and attempt; false for anything else.</summary>
    public static bool TryParse(string? scanId, [NotNullWhen(true)] out string? key, out int attempt)
    {
        key = null;
        attempt = 0;
        if (scanId is null || !scanId.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }
        var rest = scanId[Prefix.Length..];
        var underscore = rest.IndexOf('_');
        if (underscore < 0 || !IsKey(rest[..underscore]) || rest[(underscore + 1)..].StartsWith('0')
            || !int.TryParse(rest[(underscore + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out attempt) || attempt < 1)
        {
            attempt = 0;
            return false;
        }
        key = rest[..underscore];
        return true;
    }

    private static bool IsKey(string key) => key.Length == KeyLength && !key.AsSpan().ContainsAnyExcept("0123456789abcdef");

    private static void Append(StringBuilder text, string name, string value) =>
        text.Append(name).Append(' ')
            .Append(Encoding.UTF8.GetByteCount(value).ToString(CultureInfo.InvariantCulture)).Append(':')
            .Append(value).Append('\n');
}
