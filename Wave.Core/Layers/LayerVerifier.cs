using System.IO.Compression;
using System.Security.Cryptography;

using Wave.Core.Augmentation;
using Wave.Core.Digests;

namespace Wave.Core.Layers;

/// <summary>A claim of the request that the layer bytes contradict: the field (gzipSize, gzipDigest, tarDigest, location) and why.</summary>
public sealed record LayerMismatch(string Field, string Problem);

/// <summary>Checks inline layer bytes against what the request claims: gzip size and digest, and the digest of the tar inside.</summary>
public static class LayerVerifier
{
    /// <summary>Null when the bytes match what the layer claims.</summary>
    public static LayerMismatch? Verify(byte[] gzipBytes, ContainerLayer layer, long maxTarBytes)
    {
        if (gzipBytes.LongLength != layer.GzipSize)
        {
            return new("gzipSize", $"says {layer.GzipSize} bytes but the data: layer has {gzipBytes.LongLength}");
        }
        var gzipDigest = Digest.Sha256(gzipBytes);
        if (gzipDigest != layer.GzipDigest)
        {
            return new("gzipDigest", $"says {layer.GzipDigest} but the data: layer's digest is {gzipDigest}");
        }
        string tarDigest;
        try
        {
            tarDigest = TarDigest(gzipBytes, maxTarBytes);
        }
        catch (InvalidDataException e)
        {
            return new("location", $"is not a valid gzip stream: {e.Message}");
        }
        catch (LayerTooLargeException)
        {
            return new("location", $"expands to more than {maxTarBytes} bytes (Wave:Limits:MaxLayerTarBytes)");
        }
        return tarDigest == layer.TarDigest ? null : new("tarDigest", $"says {layer.TarDigest} but the data: layer's tar has digest {tarDigest}");
    }

    private static string TarDigest(byte[] gzipBytes, long maxTarBytes)
    {
        using var gzip = new GZipStream(new MemoryStream(gzipBytes, writable: false), CompressionMode.Decompress);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[81920];
        long total = 0;
        int read;
        while ((read = gzip.Read(buffer)) > 0)
        {
            total += read;
            if (total > maxTarBytes)
            {
                throw new LayerTooLargeException();
            }
            hash.AppendData(buffer, 0, read);
        }
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private sealed class LayerTooLargeException : Exception;
}
