using System.Text.Json;

using Wave.Core.Digests;
using Wave.Core.Manifests;

namespace Wave.Core.Sif;

/// <summary>
/// A SIF image stored in an OCI registry the way <c>singularity push oras://</c> stores it: an OCI image manifest
/// whose config is the empty JSON object under the SIF config media type, and whose one layer is the SIF file,
/// annotated with its file name. <c>singularity pull oras://repo:tag</c> reads it back.
/// </summary>
public static class SifArtifact
{
    public const string ConfigMediaType = "application/vnd.sylabs.sif.config.v1+json";
    public const string LayerMediaType = "application/vnd.sylabs.sif.layer.v1.sif";
    public const string TitleAnnotation = "org.opencontainers.image.title";

    /// <summary>The config blob: <c>{}</c>.</summary>
    public static ReadOnlyMemory<byte> Config { get; } = "{}"u8.ToArray();

    public static string ConfigDigest { get; } = Digest.Sha256(Config.Span);

    /// <summary>The manifest for a SIF blob of <paramref name="sifSize"/> bytes, with <paramref name="fileName"/> (e.g. <c>image.sif</c>) as its title.</summary>
    public static byte[] Manifest(string sifDigest, long sifSize, string fileName)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("schemaVersion", 2);
            json.WriteString("mediaType", MediaTypes.OciManifest);
            json.WriteStartObject("config");
            json.WriteString("mediaType", ConfigMediaType);
            json.WriteString("digest", ConfigDigest);
            json.WriteNumber("size", Config.Length);
            json.WriteEndObject();
            json.WriteStartArray("layers");
            json.WriteStartObject();
            json.WriteString("mediaType", LayerMediaType);
            json.WriteString("digest", sifDigest);
            json.WriteNumber("size", sifSize);
            json.WriteStartObject("annotations");
            json.WriteString(TitleAnnotation, fileName);
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
