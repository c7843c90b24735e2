namespace Wave.Core.Manifests;

/// <summary>Reads and writes manifests, indexes and configs (System.Text.Json, nulls omitted, no indentation).</summary>
public static class ManifestJson
{
    /// <summary>Throws <see cref="InvalidManifestException"/> with a reason when the bytes are not valid JSON of that shape.</summary>
    public static T Deserialize<T>(ReadOnlySpan<byte> json) where T : class => throw new NotImplementedException();

    public static byte[] Serialize<T>(T value) where T : class => throw new NotImplementedException();

    /// <summary>
    /// The media type of a manifest: the registry's Content-Type when it names a manifest type, else the
    /// document's own mediaType field, else inferred (manifests[] → OCI index, config+layers → OCI manifest).
    /// </summary>
    public static string DetectMediaType(ReadOnlySpan<byte> json, string? contentType) => throw new NotImplementedException();
}

public sealed class InvalidManifestException(string message, Exception? inner = null) : Exception(message, inner);
