using System.Text;

namespace Wave.RegistryProxy.Content;

/// <summary>A manifest, index or config that Wave serves itself, with the digest of exactly these bytes.</summary>
public sealed record ServedContent(string MediaType, byte[] Bytes, string Digest)
{
    // Stored as "<mediaType>\n<bytes>": one value per digest, readable without a JSON round trip.
    public byte[] Encode()
    {
        var header = Encoding.UTF8.GetBytes(MediaType + "\n");
        var encoded = new byte[header.Length + Bytes.Length];
        header.CopyTo(encoded, 0);
        Bytes.CopyTo(encoded, header.Length);
        return encoded;
    }

    public static ServedContent Decode(byte[] encoded, string digest)
    {
        var newline = Array.IndexOf(encoded, (byte)'\n');
        if (newline < 0)
        {
            throw new InvalidDataException($"stored content for {digest} has no media type header");
        }
        return new ServedContent(Encoding.UTF8.GetString(encoded, 0, newline), encoded[(newline + 1)..], digest);
    }
}
