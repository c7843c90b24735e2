using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

using Wave.Tests.Infrastructure;

namespace Wave.Bench;

/// <summary>A gzip tar layer with the digests a manifest and a Wave request name it by.</summary>
public sealed record BenchLayer(byte[] Gzip, string GzipDigest, string TarDigest)
{
    /// <summary>One file of random (incompressible) bytes, so that sizes on the wire are what they say.</summary>
    public static BenchLayer Random(string fileName, int bytes)
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, fileName)
            {
                Mode = (UnixFileMode)0b110_100_100,
                ModificationTime = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero),
                DataStream = new MemoryStream(RandomNumberGenerator.GetBytes(bytes)),
            });
        }
        var tarBytes = tar.ToArray();
        using var gzip = new MemoryStream();
        using (var compressor = new GZipStream(gzip, CompressionLevel.Fastest, leaveOpen: true))
        {
            compressor.Write(tarBytes);
        }
        var gzipBytes = gzip.ToArray();
        return new BenchLayer(gzipBytes, RegistryPusher.Sha256(gzipBytes), RegistryPusher.Sha256(tarBytes));
    }
}

public static class BenchImages
{
    public const string ManifestType = "application/vnd.docker.distribution.manifest.v2+json";

    /// <summary>
    /// A busybox image made here from the static busybox binary (Debian's busybox-static): one layer holding
    /// /bin/busybox, links for the applets a Dockerfile's RUN uses, /tmp, and PATH in the config. The base of the
    /// build benchmarks, so that they pull nothing from outside.
    /// </summary>
    public static async Task<string> PushBusyboxAsync(RegistryServer registry, string repository, string tag)
    {
        var busybox = await File.ReadAllBytesAsync(Requirements.Binary("busybox", "busybox-static"));
        using var tar = new MemoryStream();
        var time = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var directory in new[] { "bin/", "tmp/", "etc/" })
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, directory) { Mode = (UnixFileMode)0b111_101_101, ModificationTime = time });
            }
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "bin/busybox")
            {
                Mode = (UnixFileMode)0b111_101_101,
                ModificationTime = time,
                DataStream = new MemoryStream(busybox),
            });
            foreach (var applet in new[] { "sh", "echo", "sleep", "cat", "ls", "true", "mkdir", "rm", "cp", "env" })
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "bin/" + applet) { LinkName = "busybox", ModificationTime = time });
            }
        }
        var tarBytes = tar.ToArray();
        using var gzip = new MemoryStream();
        using (var compressor = new GZipStream(gzip, CompressionLevel.Fastest, leaveOpen: true))
        {
            compressor.Write(tarBytes);
        }
        var layer = new BenchLayer(gzip.ToArray(), RegistryPusher.Sha256(gzip.ToArray()), RegistryPusher.Sha256(tarBytes));
        await PushAsync(registry, repository, tag, [layer]);
        return $"{registry.Host}/{repository}:{tag}";
    }

    /// <summary>Pushes a Docker v2 image of these layers; returns the manifest's digest.</summary>
    public static async Task<string> PushAsync(RegistryServer registry, string repository, string tag, IReadOnlyList<BenchLayer> layers)
    {
        using var pusher = new RegistryPusher(registry);
        foreach (var layer in layers)
        {
            await pusher.PushBlobAsync(repository, layer.Gzip);
        }
        var config = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["config"] = new JsonObject { ["Cmd"] = new JsonArray("/bin/sh"), ["Env"] = new JsonArray("PATH=/bin") },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray([.. layers.Select(l => (JsonNode)l.TarDigest)]) },
        }.ToJsonString());
        var configDigest = await pusher.PushBlobAsync(repository, config);
        var manifest = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = ManifestType,
            ["config"] = new JsonObject { ["mediaType"] = "application/vnd.docker.container.image.v1+json", ["size"] = config.Length, ["digest"] = configDigest },
            ["layers"] = new JsonArray([.. layers.Select(l => (JsonNode)new JsonObject
            {
                ["mediaType"] = "application/vnd.docker.image.rootfs.diff.tar.gzip",
                ["size"] = l.Gzip.Length,
                ["digest"] = l.GzipDigest,
            })]),
        }.ToJsonString());
        return await pusher.PushManifestAsync(repository, tag, manifest, ManifestType);
    }
}
