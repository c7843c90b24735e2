using System.Formats.Tar;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

using Wave.Tests.Infrastructure;

namespace Wave.Tests.Tooling;

public sealed class DockerEngineTests(DockerEngineFixture docker)
{
    [Fact]
    public async Task Engine_answers_on_its_private_unix_socket()
    {
        var engine = await docker.GetAsync();

        var version = (await engine.RunAsync("version", "--format", "{{.Server.Version}}")).Trim();

        Assert.Matches(@"^\d+\.\d+", version);
        Assert.StartsWith("unix:///", engine.Host, StringComparison.Ordinal);
        Assert.True(File.Exists(engine.Host["unix://".Length..]), $"no socket at {engine.Host}");
        Assert.True(engine.Host.Length < 108, "unix socket paths must fit in sun_path");
    }

    [Fact]
    public async Task Pulls_from_a_plain_http_loopback_registry_and_runs_a_container()
    {
        var engine = await docker.GetAsync();
        await using var registry = await LocalRegistry.StartAsync();
        var content = "hello from " + Guid.NewGuid().ToString("N");
        var reference = $"{registry.Address}/tooling/hello:{Guid.NewGuid():N}";
        await TinyImage.PushAsync(reference, "/hello.txt", content);

        await engine.RunAsync("pull", reference);
        var output = await engine.RunAsync("run", "--rm", "--network", "none", reference, "cat", "/hello.txt");

        Assert.Equal(content, output.TrimEnd('\n')); // the file has no newline; TestProcess ends every line with one
    }
}

/// <summary>A throwaway CNCF distribution registry on a loopback port, filesystem storage in a temp folder.</summary>
internal sealed class LocalRegistry : IAsyncDisposable
{
    private readonly TestProcess _process;
    private readonly string _root;

    private LocalRegistry(TestProcess process, string root, string address)
    {
        _process = process;
        _root = root;
        Address = address;
    }

    /// <summary>host:port, e.g. 127.0.0.1:41234.</summary>
    public string Address { get; }

    public static async Task<LocalRegistry> StartAsync()
    {
        var binary = Requirements.Binary("docker-registry", "docker-registry");
        var root = Directory.CreateTempSubdirectory("wave-registry-").FullName;
        var port = FreePort.Next();
        var config = Path.Combine(root, "config.yml");
        await File.WriteAllTextAsync(config, $"""
            version: 0.1
            log:
              level: warn
            storage:
              filesystem:
                rootdirectory: {Path.Combine(root, "data")}
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:{port}
            """);
        var process = TestProcess.Start(binary, ["serve", config]);
        var registry = new LocalRegistry(process, root, $"127.0.0.1:{port}");
        try
        {
            await FreePort.WaitListeningAsync(port, TimeSpan.FromSeconds(30), () => process.Output);
            return registry;
        }
        catch
        {
            await registry.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }
}

/// <summary>
/// A one-layer image made of the host's static busybox and one text file, written as an OCI layout and pushed with
/// skopeo: no base image from the internet, no build tool.
/// </summary>
internal static class TinyImage
{
    public static async Task PushAsync(string reference, string filePath, string fileContent)
    {
        var skopeo = Requirements.Binary("skopeo", "skopeo");
        var busybox = Requirements.Binary("busybox", "busybox-static");
        var layout = Directory.CreateTempSubdirectory("wave-oci-").FullName;
        try
        {
            await WriteLayoutAsync(layout, busybox, filePath, fileContent);
            await TestProcess.RunAsync(skopeo,
                ["--insecure-policy", "copy", "--dest-tls-verify=false", $"oci:{layout}:latest", $"docker://{reference}"]);
        }
        finally
        {
            Directory.Delete(layout, recursive: true);
        }
    }

    private static async Task WriteLayoutAsync(string layout, string busybox, string filePath, string fileContent)
    {
        var blobs = Path.Combine(layout, "blobs", "sha256");
        Directory.CreateDirectory(blobs);

        var tar = LayerTar(busybox, filePath.TrimStart('/'), fileContent);
        var diffId = Digest(tar);
        var layer = Gzip(tar);
        var config = JsonSerializer.SerializeToUtf8Bytes(new
        {
            architecture = GoArchitecture(),
            os = "linux",
            config = new { Env = new[] { "PATH=/bin" } },
            rootfs = new { type = "layers", diff_ids = new[] { diffId } },
        });
        var manifest = JsonSerializer.SerializeToUtf8Bytes(new
        {
            schemaVersion = 2,
            mediaType = "application/vnd.oci.image.manifest.v1+json",
            config = Descriptor("application/vnd.oci.image.config.v1+json", config),
            layers = new[] { Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer) },
        });
        foreach (var blob in new[] { layer, config, manifest })
        {
            await File.WriteAllBytesAsync(Path.Combine(blobs, Digest(blob)["sha256:".Length..]), blob);
        }
        var index = new
        {
            schemaVersion = 2,
            manifests = new[]
            {
                new
                {
                    mediaType = "application/vnd.oci.image.manifest.v1+json",
                    digest = Digest(manifest),
                    size = manifest.Length,
                    annotations = new Dictionary<string, string> { ["org.opencontainers.image.ref.name"] = "latest" },
                },
            },
        };
        await File.WriteAllBytesAsync(Path.Combine(layout, "index.json"), JsonSerializer.SerializeToUtf8Bytes(index));
        await File.WriteAllTextAsync(Path.Combine(layout, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
    }

    private static byte[] LayerTar(string busybox, string filePath, string fileContent)
    {
        using var buffer = new MemoryStream();
        using (var writer = new TarWriter(buffer, TarEntryFormat.Pax, leaveOpen: true))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "bin/") { Mode = (UnixFileMode)0b111_101_101 });
            using (var binary = File.OpenRead(busybox))
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "bin/busybox") { Mode = (UnixFileMode)0b111_101_101, DataStream = binary });
            }
            foreach (var applet in new[] { "sh", "cat" })
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "bin/" + applet) { LinkName = "busybox" });
            }
            using var text = new MemoryStream(Encoding.UTF8.GetBytes(fileContent));
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, filePath) { Mode = (UnixFileMode)0b110_100_100, DataStream = text });
        }
        return buffer.ToArray();
    }

    private static byte[] Gzip(byte[] data)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(data);
        }
        return buffer.ToArray();
    }

    private static string Digest(byte[] data) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(data));

    private static object Descriptor(string mediaType, byte[] blob) => new { mediaType, digest = Digest(blob), size = blob.Length };

    private static string GoArchitecture() => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        var other => throw new PlatformNotSupportedException($"no Go architecture name for {other}"),
    };
}
