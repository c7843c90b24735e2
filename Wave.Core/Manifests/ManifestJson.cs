using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using System.Text.Unicode;

namespace Wave.Core.Manifests;

/// <summary>Reads and writes manifests, indexes and configs (System.Text.Json, nulls omitted, no indentation).</summary>
public static class ManifestJson
{
    // Strict reading: a duplicated key could make two parsers see two different manifests behind one digest.
    // Relaxed escaping on writing: the default encoder would turn the '+' of every media type into \u002B.
    // Reflection metadata, not a source-generated context: the generator binds init-only properties like
    // constructor arguments, so an absent "layers" would become null instead of keeping its [] default, and an
    // init-only [JsonExtensionData] property is refused outright.
    private static readonly JsonSerializerOptions Options = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        RespectNullableAnnotations = true,
        AllowDuplicateProperties = false,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = false,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
    };

    /// <summary>Throws <see cref="InvalidManifestException"/> with a reason when the bytes are not valid JSON of that shape.</summary>
    public static T Deserialize<T>(ReadOnlySpan<byte> json) where T : class
    {
        var typeInfo = (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T));
        if (!Utf8.IsValid(json))
        {
            throw new InvalidManifestException($"invalid {Describe<T>()}: the document is not valid UTF-8");
        }
        T? value;
        try
        {
            value = JsonSerializer.Deserialize(json, typeInfo);
        }
        // The reader reports strings it cannot transcode (escaped lone surrogates) as InvalidOperationException.
        catch (Exception e) when (e is JsonException or InvalidOperationException or DecoderFallbackException)
        {
            throw new InvalidManifestException($"invalid {Describe<T>()}: {e.Message}", e);
        }
        if (value is null)
        {
            throw new InvalidManifestException($"invalid {Describe<T>()}: the document is null");
        }
        if (Validate(value) is { } reason)
        {
            throw new InvalidManifestException($"invalid {Describe<T>()}: {reason}");
        }
        return value;
    }

    public static byte[] Serialize<T>(T value) where T : class
    {
        ArgumentNullException.ThrowIfNull(value);
        return JsonSerializer.SerializeToUtf8Bytes(value, (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T)));
    }

    /// <summary>
    /// The media type of a manifest: the registry's Content-Type when it names a manifest type, else the
    /// document's own mediaType field, else inferred (manifests[] → OCI index, config+layers → OCI manifest).
    /// </summary>
    public static string DetectMediaType(ReadOnlySpan<byte> json, string? contentType)
    {
        var declared = contentType?.Split(';', 2)[0].Trim();
        if (MediaTypes.IsManifest(declared))
        {
            return declared!;
        }

        if (!Utf8.IsValid(json))
        {
            throw new InvalidManifestException("invalid manifest: the document is not valid UTF-8");
        }
        string? mediaType = null;
        bool hasManifests = false, hasConfig = false, hasLayers = false;
        try
        {
            using var document = JsonDocument.Parse(json.ToArray());
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidManifestException("invalid manifest: the document is not a JSON object");
            }
            foreach (var property in document.RootElement.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "mediaType" when property.Value.ValueKind == JsonValueKind.String:
                        mediaType = property.Value.GetString();
                        break;
                    case "manifests" when property.Value.ValueKind == JsonValueKind.Array:
                        hasManifests = true;
                        break;
                    case "config" when property.Value.ValueKind == JsonValueKind.Object:
                        hasConfig = true;
                        break;
                    case "layers" when property.Value.ValueKind == JsonValueKind.Array:
                        hasLayers = true;
                        break;
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or DecoderFallbackException)
        {
            throw new InvalidManifestException($"invalid manifest: {e.Message}", e);
        }

        if (MediaTypes.IsManifest(mediaType))
        {
            return mediaType!;
        }
        if (hasManifests)
        {
            return MediaTypes.OciIndex;
        }
        if (hasConfig && hasLayers)
        {
            return MediaTypes.OciManifest;
        }
        throw new InvalidManifestException(
            $"cannot tell the manifest media type (content type '{contentType}', mediaType '{mediaType}'): not an image manifest or index");
    }

    private static string Describe<T>() => typeof(T) == typeof(ImageManifest) ? "image manifest"
        : typeof(T) == typeof(ImageIndex) ? "image index"
        : typeof(T) == typeof(ImageConfig) ? "image config"
        : typeof(T).Name;

    // What the type system cannot say: schema versions, well-formed digests, no null list entries.
    private static string? Validate(object value) => value switch
    {
        ImageManifest m when m.SchemaVersion != 2 => $"schemaVersion must be 2, not {m.SchemaVersion}",
        ImageManifest m => ValidateDescriptor(m.Config, "config") ?? ValidateDescriptors(m.Layers, "layers"),
        ImageIndex i when i.SchemaVersion != 2 => $"schemaVersion must be 2, not {i.SchemaVersion}",
        ImageIndex i => ValidateDescriptors(i.Manifests, "manifests"),
        ImageConfig c when c.RootFs?.DiffIds.Any(d => !Digests.Digest.IsWellFormed(d)) == true => "rootfs.diff_ids holds a malformed digest",
        ImageConfig c when c.History?.Any(h => h is null) == true => "history holds a null entry",
        _ => null,
    };

    private static string? ValidateDescriptors(IReadOnlyList<Descriptor>? descriptors, string field)
    {
        if (descriptors is null)
        {
            return $"{field} is null";
        }
        for (var i = 0; i < descriptors.Count; i++)
        {
            if (ValidateDescriptor(descriptors[i], $"{field}[{i}]") is { } reason)
            {
                return reason;
            }
        }
        return null;
    }

    private static string? ValidateDescriptor(Descriptor? descriptor, string field) => descriptor switch
    {
        null => $"{field} is null",
        { Digest: var d } when !Digests.Digest.IsWellFormed(d) => $"{field}.digest '{Truncate(d)}' is not a well-formed digest",
        { Size: < 0 } => $"{field}.size is negative",
        _ => null,
    };

    private static string Truncate(string? value) => value is { Length: > 80 } ? value[..80] + "…" : value ?? "";
}

public sealed class InvalidManifestException(string message, Exception? inner = null) : Exception(message, inner);
