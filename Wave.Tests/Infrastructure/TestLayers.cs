using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

using Wave.Core.Augmentation;

namespace Wave.Tests.Infrastructure;

/// <summary>A gzip tar layer made in the test, with the digests a client would send.</summary>
public sealed record TestLayer(byte[] Gzip, byte[] Tar, string GzipDigest, string TarDigest)
{
    public ContainerLayer AsDataLayer() => new()
    {
        Location = "data:" + Convert.ToBase64String(Gzip),
        GzipDigest = GzipDigest,
        GzipSize = Gzip.Length,
        TarDigest = TarDigest,
    };

    public ContainerLayer AsRemoteLayer(string url) => AsDataLayer() with { Location = url };

    /// <summary>A layer holding the given files (path → content); parent directories are added.</summary>
    public static TestLayer Create(IReadOnlyDictionary<string, string> files)
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            var directories = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var path in files.Keys)
            {
                var parts = path.Split('/');
                for (var i = 1; i < parts.Length; i++)
                {
                    directories.Add(string.Join('/', parts[..i]) + "/");
                }
            }
            var time = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
            foreach (var directory in directories)
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, directory) { Mode = (UnixFileMode)0b111_101_101, ModificationTime = time });
            }
            foreach (var (path, content) in files)
            {
                var entry = new PaxTarEntry(TarEntryType.RegularFile, path)
                {
                    Mode = (UnixFileMode)0b110_100_100,
                    ModificationTime = time,
                    DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(content)),
                };
                writer.WriteEntry(entry);
            }
        }
        var tarBytes = tar.ToArray();
        using var gzip = new MemoryStream();
        using (var compressor = new GZipStream(gzip, CompressionLevel.Optimal, leaveOpen: true))
        {
            compressor.Write(tarBytes);
        }
        var gzipBytes = gzip.ToArray();
        return new TestLayer(gzipBytes, tarBytes, Sha256(gzipBytes), Sha256(tarBytes));
    }

    private static string Sha256(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
}
