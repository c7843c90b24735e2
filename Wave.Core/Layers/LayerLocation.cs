using System.Diagnostics.CodeAnalysis;

namespace Wave.Core.Layers;

/// <summary>Where an added layer comes from: an http(s) URL (the client is redirected there) or inline <c>data:</c> bytes.</summary>
public abstract record LayerLocation
{
    private LayerLocation()
    {
    }

    public sealed record Remote(Uri Uri) : LayerLocation;

    /// <summary>Base64 text after the <c>data:</c> prefix (and after an optional <c>mediatype;base64,</c> header).</summary>
    public sealed record Inline(string Base64) : LayerLocation
    {
        /// <summary>The decoded size, known without decoding.</summary>
        public long DecodedLength
        {
            get
            {
                var padding = Base64.EndsWith("==", StringComparison.Ordinal) ? 2 : Base64.EndsWith('=') ? 1 : 0;
                return Base64.Length / 4 * 3 - padding;
            }
        }

        /// <summary>Null when the text is not valid base64.</summary>
        public byte[]? TryDecode()
        {
            var buffer = new byte[Math.Max(0, DecodedLength)];
            return Convert.TryFromBase64String(Base64, buffer, out var written) ? buffer[..written] : null;
        }
    }

    public static bool TryParse(string? location, [NotNullWhen(true)] out LayerLocation? parsed, [NotNullWhen(false)] out string? error)
    {
        parsed = null;
        if (string.IsNullOrWhiteSpace(location))
        {
            error = "is required";
            return false;
        }
        if (location.StartsWith("data:", StringComparison.Ordinal))
        {
            var payload = location["data:".Length..];
            var comma = payload.IndexOf(',');
            if (comma >= 0)
            {
                // RFC 2397 form: data:[<mediatype>][;base64],<data>; only base64 payloads make sense for a tar.gz.
                if (!payload[..comma].EndsWith(";base64", StringComparison.Ordinal) && payload[..comma] != "base64")
                {
                    error = "must be base64 encoded (data:;base64,...)";
                    return false;
                }
                payload = payload[(comma + 1)..];
            }
            if (payload.Length == 0 || payload.Length % 4 != 0)
            {
                error = "is not valid base64";
                return false;
            }
            parsed = new Inline(payload);
            error = null;
            return true;
        }
        if (Uri.TryCreate(location, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
        {
            parsed = new Remote(uri);
            error = null;
            return true;
        }
        error = "must be an http(s) URL or a data: base64 payload";
        return false;
    }
}
