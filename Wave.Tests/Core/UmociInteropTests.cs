using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;

using Wave.Core.Augmentation;
using Wave.Core.Digests;
using Wave.Core.Manifests;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Core;

/// <summary>
/// The augmented manifest and config are accepted by an independent OCI implementation: umoci unpacks the image
/// (verifying every blob digest and each layer's diff_id against the config) into a bundle with the base file,
/// the added file, and the rewritten runtime config.
/// </summary>
public sealed class UmociInteropTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("wave-umoci-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task UmociUnpacksAnAugmentedOciImage()
    {
        var umoci = Requirements.Binary("umoci", "umoci");
        var layout = Path.Combine(_root, "layout");
        var source = Directory.CreateDirectory(Path.Combine(_root, "src")).FullName;
        await File.WriteAllTextAsync(Path.Combine(source, "base.txt"), "base", TestContext.Current.CancellationToken);
        await TestProcess.RunAsync(umoci, ["init", "--layout", layout]);
        await TestProcess.RunAsync(umoci, ["new", "--image", layout + ":base"]);
        await TestProcess.RunAsync(umoci, ["config", "--image", layout + ":base", "--config.env", "BASE=1", "--config.cmd", "/bin/true"]);
        await TestProcess.RunAsync(umoci, ["insert", "--image", layout + ":base", Path.Combine(source, "base.txt"), "/base.txt"]);

        var index = JsonNode.Parse(await File.ReadAllBytesAsync(Path.Combine(layout, "index.json"), TestContext.Current.CancellationToken))!;
        var baseDigest = (string)index["manifests"]!.AsArray().Single(m => (string?)m!["annotations"]!["org.opencontainers.image.ref.name"] == "base")!["digest"]!;
        var manifest = ReadBlob(layout, baseDigest);
        var config = ReadBlob(layout, ManifestJson.Deserialize<ImageManifest>(manifest).Config.Digest);

        var (layer, tarDigest) = GzipTar(("wave/hello.txt", "hello from wave"));
        var gzipDigest = WriteBlob(layout, layer);
        var request = new ContainerConfig
        {
            Entrypoint = ["/bin/sh", "-c"],
            Env = ["FOO=bar"],
            WorkingDir = "/wave",
            Layers = [new ContainerLayer { GzipDigest = gzipDigest, GzipSize = layer.Length, TarDigest = tarDigest }],
        };
        var augmented = ManifestAugmenter.Augment(manifest, MediaTypes.OciManifest, config, request, DateTimeOffset.UnixEpoch);

        Assert.Equal(augmented.ConfigDigest, WriteBlob(layout, augmented.Config));
        Assert.Equal(augmented.ManifestDigest, WriteBlob(layout, augmented.Manifest));
        index["manifests"]!.AsArray().Add(new JsonObject
        {
            ["mediaType"] = MediaTypes.OciManifest,
            ["digest"] = augmented.ManifestDigest,
            ["size"] = augmented.Manifest.Length,
            ["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = "augmented" },
        });
        await File.WriteAllTextAsync(Path.Combine(layout, "index.json"), index.ToJsonString(), TestContext.Current.CancellationToken);

        var bundle = Path.Combine(_root, "bundle");
        await TestProcess.RunAsync(umoci, ["unpack", "--image", layout + ":augmented", bundle]);

        Assert.Equal("base", await File.ReadAllTextAsync(Path.Combine(bundle, "rootfs", "base.txt"), TestContext.Current.CancellationToken));
        Assert.Equal("hello from wave", await File.ReadAllTextAsync(Path.Combine(bundle, "rootfs", "wave", "hello.txt"), TestContext.Current.CancellationToken));
        var runtime = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(bundle, "config.json"), TestContext.Current.CancellationToken))!;
        var env = runtime["process"]!["env"]!.AsArray().Select(e => (string?)e).ToList();
        Assert.Contains("BASE=1", env);
        Assert.Contains("FOO=bar", env);
        Assert.Equal(["/bin/sh", "-c", "/bin/true"], runtime["process"]!["args"]!.AsArray().Select(a => (string?)a));
        Assert.Equal("/wave", (string?)runtime["process"]!["cwd"]);

        var stat = await TestProcess.RunAsync(umoci, ["stat", "--image", layout + ":augmented", "--json"]);
        var history = JsonNode.Parse(stat)!["history"]!.AsArray();
        Assert.Equal(ManifestJson.Deserialize<ImageConfig>(config).History!.Count + 1, history.Count);
        Assert.Equal(tarDigest, (string?)history[^1]!["diff_id"]);
        Assert.Equal(gzipDigest, (string?)history[^1]!["layer"]!["digest"]);
        Assert.Equal("wave", (string?)history[^1]!["comment"]);
    }

    private static byte[] ReadBlob(string layout, string digest) =>
        File.ReadAllBytes(Path.Combine(layout, "blobs", "sha256", digest["sha256:".Length..]));

    private static string WriteBlob(string layout, byte[] content)
    {
        var digest = Digest.Sha256(content);
        File.WriteAllBytes(Path.Combine(layout, "blobs", "sha256", digest["sha256:".Length..]), content);
        return digest;
    }

    private static (byte[] Gzip, string TarDigest) GzipTar(params (string Path, string Content)[] files)
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var directory in files.Select(f => Path.GetDirectoryName(f.Path)!).Where(d => d.Length > 0).Distinct())
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, directory + "/") { Mode = (UnixFileMode)0b111_101_101 });
            }
            foreach (var (path, content) in files)
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, path)
                {
                    Mode = (UnixFileMode)0b110_100_100,
                    DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)),
                });
            }
        }
        using var gzip = new MemoryStream();
        using (var compressor = new GZipStream(gzip, CompressionLevel.Optimal, leaveOpen: true))
        {
            compressor.Write(tar.ToArray());
        }
        return (gzip.ToArray(), Digest.Sha256(tar.ToArray()));
    }
}
