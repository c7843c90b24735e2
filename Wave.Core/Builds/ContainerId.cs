using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Wave.Core.Builds;

/// <summary>
/// The identity of an image's content: 64 bits (16 lower-case hex digits) of a SHA-256 over everything that shapes
/// the image, so that identical requests share one build and one name.
/// </summary>
/// <remarks>
/// The hashed text is a sequence of fields in a fixed order, each written as <c>name</c>, <c>' '</c>, the UTF-8 byte
/// length of the value in decimal, <c>':'</c>, the value, <c>'\n'</c>: an encoding with no escaping and no ambiguity
/// (a value cannot end early or run into the next field). Fields, in order:
/// <c>wave-build-id</c> (the encoding version, "1"), <c>dockerfile</c>, <c>platform</c> (<c>linux/amd64</c>),
/// <c>repository</c> (normalised <c>registry/repository</c>), <c>format</c>, then one <c>context</c> field per
/// context file sorted by path (ordinal), whose value is <c>path ' ' sha256:hex</c> of its bytes (for a layer still
/// to be fetched, the <c>gzipDigest</c> the request declares; for the <c>buildContext</c> archive, the path
/// <c>(buildContext)</c> and its <c>tarDigest</c>), then, only when the request asks for one, <c>compression</c>
/// (<see cref="BuildCompression.ToString"/>), which changes the pushed layers. A multi-platform build's platform is
/// the list, <c>linux/amd64,linux/arm64</c>. The cache repository, the name strategy, the freeze flag and the attempt
/// do not change the image and are not hashed.
/// Changing this encoding renames every build; the golden tests pin it.
/// </remarks>
public static class ContainerId
{
    public const int Length = 16;

    /// <summary>The context-digest key of a request's <c>buildContext</c> archive (no context file can be named so).</summary>
    public const string BuildContextKey = "(buildContext)";
    private const string EncodingVersion = "1";

    /// <param name="contextDigests">Context file path → <c>sha256:…</c> digest of its bytes.</param>
    /// <param name="compression">The requested layer compression, or null for the builder's default (not hashed then).</param>
    public static string Compute(string dockerfile, string platform, string repository, string format, IReadOnlyDictionary<string, string> contextDigests, BuildCompression? compression = null)
    {
        var text = new StringBuilder();
        Append(text, "wave-build-id", EncodingVersion);
        Append(text, "dockerfile", dockerfile);
        Append(text, "platform", platform);
        Append(text, "repository", repository);
        Append(text, "format", format);
        foreach (var (path, digest) in contextDigests.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            Append(text, "context", $"{path} {digest}");
        }
        if (compression is not null)
        {
            Append(text, "compression", compression.ToString());
        }
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()));
        return Convert.ToHexStringLower(hash)[..Length];
    }

    public static bool IsValid(string? id) =>
        id is { Length: Length } && !id.AsSpan().ContainsAnyExcept("0123456789abcdef");

    private static void Append(StringBuilder text, string name, string value) =>
        text.Append(name).Append(' ')
            .Append(Encoding.UTF8.GetByteCount(value).ToString(CultureInfo.InvariantCulture)).Append(':')
            .Append(value).Append('\n');
}
