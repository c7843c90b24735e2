using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Wave.Core.Mirrors;

/// <summary>
/// A mirror attempt's id: <c>mr-&lt;contentId&gt;_&lt;attempt&gt;</c>. The content id is 64 bits (16 lower-case hex
/// digits) of a SHA-256 over what the copy makes: the digest of the source image and the name it is copied to. Two
/// requests for the same bytes under the same target name therefore share one copy, whoever sends them; an image whose
/// tag moved upstream has another digest, so another content id and a copy of its own. Attempts count from 1: a failed
/// copy is tried again under the next one, as builds are (<c>bd-…_N</c>).
/// </summary>
/// <remarks>
/// The Wave server draws a random <c>mr-</c> id per copy and finds a running one by target name; here the id itself says
/// which copy it is, so joining is a look-up by content id and the store's insert arbitrates between concurrent requests.
/// Hashed text: <c>wave-mirror-id 1:1\n</c>, <c>source-digest N:value\n</c>, <c>target N:value\n</c> (name, byte length,
/// value: no escaping, no ambiguity). Changing it renames every mirror; the tests pin it.
/// </remarks>
public static class MirrorId
{
    public const string Prefix = "mr-";
    public const int ContentIdLength = 16;
    private const string EncodingVersion = "1";

    /// <param name="sourceDigest">The digest of the source manifest (or index) that is copied.</param>
    /// <param name="targetImage">The normalised target name, <c>registry/repository:tag</c> (or <c>@digest</c>).</param>
    public static string ContentId(string sourceDigest, string targetImage)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sourceDigest);
        ArgumentException.ThrowIfNullOrWhiteSpace(targetImage);
        var text = new StringBuilder();
        Append(text, "wave-mirror-id", EncodingVersion);
        Append(text, "source-digest", sourceDigest);
        Append(text, "target", targetImage);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()));
        return Convert.ToHexStringLower(hash)[..ContentIdLength];
    }

    public static string Format(string contentId, int attempt)
    {
        if (!IsContentId(contentId))
        {
            throw new ArgumentException($"'{contentId}' is not a mirror content id ({ContentIdLength} lower-case hex digits)", nameof(contentId));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 0);
        return string.Create(CultureInfo.InvariantCulture, $"{Prefix}{contentId}_{attempt}");
    }

    /// <summary>The id a dry run answers: attempt 0, which no real copy has (as a dry-run build is <c>bd-…_0</c>).</summary>
    public static string DryRun(string contentId) => Format(contentId, 0);

    /// <summary>Splits a mirror id into its content id and attempt (from 1); false for anything else.</summary>
    public static bool TryParse(string? mirrorId, [NotNullWhen(true)] out string? contentId, out int attempt)
    {
        contentId = null;
        attempt = 0;
        if (mirrorId is null || !mirrorId.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }
        var rest = mirrorId[Prefix.Length..];
        var underscore = rest.IndexOf('_');
        if (underscore < 0
            || !IsContentId(rest[..underscore])
            || rest[(underscore + 1)..].StartsWith('0')
            || !int.TryParse(rest[(underscore + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out attempt)
            || attempt < 1)
        {
            attempt = 0;
            return false;
        }
        contentId = rest[..underscore];
        return true;
    }

    public static bool IsContentId(string? value) =>
        value is { Length: ContentIdLength } && !value.AsSpan().ContainsAnyExcept("0123456789abcdef");

    private static void Append(StringBuilder text, string name, string value) =>
        text.Append(name).Append(' ').Append(Encoding.UTF8.GetByteCount(value).ToString(CultureInfo.InvariantCulture)).Append(':').Append(value).Append('\n');
}
