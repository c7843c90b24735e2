using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json;

using Microsoft.Extensions.Logging.Abstractions;

using Wave.Builder.Local;
using Wave.Core.Builds;
using Wave.Core.Registry;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Builds.Local;

/// <summary>Everything the backend wrote to the log sink, in order, readable while a build runs.</summary>
internal sealed class CollectingLogSink : IBuildLogSink
{
    private readonly StringBuilder _text = new();
    private readonly Lock _gate = new();

    public string Text
    {
        get
        {
            lock (_gate)
            {
                return _text.ToString();
            }
        }
    }

    public ValueTask AppendAsync(string text, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _text.Append(text);
        }
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// A <see cref="BuildahBuildBackend"/> with its own work directory (storage, contexts), so tests running in parallel
/// never share buildah state; the storage is emptied and deleted on dispose.
/// </summary>
internal sealed class LocalBuild : IAsyncDisposable
{
    private LocalBuild(LocalBuildOptions options)
    {
        Options = options;
        Backend = new BuildahBuildBackend(options, TimeProvider.System, NullLogger<BuildahBuildBackend>.Instance);
    }

    public LocalBuildOptions Options { get; }
    public BuildahBuildBackend Backend { get; }

    public static LocalBuild Create()
    {
        var buildah = Requirements.Binary("buildah", "buildah");
        var work = Path.Combine(Path.GetTempPath(), "wave-local-build-" + Guid.NewGuid().ToString("N")[..8]);
        return new LocalBuild(new LocalBuildOptions { BuildahPath = buildah, WorkDirectory = work });
    }

    public static BuildJob Job(string target, string dockerfile, string platform = "linux/amd64", TimeSpan? timeout = null) => new()
    {
        BuildId = "bd-" + Guid.NewGuid().ToString("N")[..16] + "_1",
        ContainerId = Guid.NewGuid().ToString("N")[..16],
        TargetImage = target,
        Dockerfile = dockerfile,
        Platform = platform,
        CreatedAt = DateTimeOffset.UtcNow,
        Timeout = timeout ?? TimeSpan.FromMinutes(5),
    };

    public static string UniqueTag() => "t" + Guid.NewGuid().ToString("N")[..12];

    public async Task<BuildOutcome> RunAsync(BuildJob job, IReadOnlyDictionary<string, RegistryCredentials>? credentials, CollectingLogSink log) =>
        await Backend.RunAsync(job, credentials ?? new Dictionary<string, RegistryCredentials>(), log, TestContext.Current.CancellationToken);

    /// <summary>The global buildah arguments of the backend's store for <paramref name="platform"/> (one store per platform).</summary>
    private string[] Store(string platform = "linux/amd64") =>
    [
        "--root", Path.Combine(Options.WorkDirectory, "storage", platform.Replace('/', '-')),
        "--runroot", Path.Combine(Options.WorkDirectory, "run", platform.Replace('/', '-')), "--storage-driver", "vfs",
    ];

    /// <summary>The platforms whose stores exist.</summary>
    private IEnumerable<string> StoredPlatforms()
    {
        var root = Path.Combine(Options.WorkDirectory, "storage");
        return Directory.Exists(root) ? Directory.EnumerateDirectories(root).Select(d => Path.GetFileName(d).Replace('-', '/')) : [];
    }

    /// <summary>The images in this backend's store for <paramref name="platform"/>, as buildah lists them.</summary>
    public async Task<string> ImagesAsync(string platform = "linux/amd64") =>
        await TestProcess.RunAsync(Options.BuildahPath, [.. Store(platform), "images", "--all", "--format", "{{.Name}}:{{.Tag}}"]);

    /// <summary>Pulls an image into this backend's store ahead of a build, so that a build's clock starts at its own steps.</summary>
    public async Task PullAsync(string image, string platform = "linux/amd64") =>
        await TestProcess.RunAsync(Options.BuildahPath, [.. Store(platform), "pull", "--platform", platform, "--tls-verify=false", "--quiet", image]);

    /// <summary>The working containers in every store of this backend (a killed build must not leave any).</summary>
    public async Task<string> ContainersAsync()
    {
        var containers = new List<string>();
        foreach (var platform in StoredPlatforms())
        {
            containers.Add((await TestProcess.RunAsync(Options.BuildahPath, [.. Store(platform), "containers", "--all", "--quiet"])).Trim());
        }
        return string.Join("\n", containers.Where(c => c.Length > 0));
    }

    /// <summary>Folders left in the context directory (each build must remove its own).</summary>
    public string[] LeftoverBuildFolders()
    {
        var contexts = Path.Combine(Options.WorkDirectory, "contexts");
        return Directory.Exists(contexts) ? Directory.GetFileSystemEntries(contexts) : [];
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var platform in StoredPlatforms().ToList())
        {
            try
            {
                await TestProcess.RunAsync(Options.BuildahPath, [.. Store(platform), "rm", "--all"], TimeSpan.FromMinutes(1));
                await TestProcess.RunAsync(Options.BuildahPath, [.. Store(platform), "rmi", "--all", "--force"], TimeSpan.FromMinutes(1));
            }
            catch (Exception e) when (e is CommandFailedException or TimeoutException)
            {
            }
        }
        try
        {
            Directory.Delete(Options.WorkDirectory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Reads pushed images with skopeo: an independent client, so the checks do not trust the code under test.</summary>
internal static class PushedImage
{
    private static string Skopeo => Requirements.Binary("skopeo", "skopeo");

    public static async Task<string> DigestAsync(string image, RegistryCredentials? credentials = null) =>
        await Registry.TestClients.SkopeoDigestAsync(image, credentials);

    public static async Task<JsonElement> ConfigAsync(string image, string architecture)
    {
        var json = await TestProcess.RunAsync(Skopeo, ["inspect", "--tls-verify=false", "--override-arch", architecture, "--config", "docker://" + image]);
        return JsonDocument.Parse(json).RootElement.Clone();
    }

    /// <summary>A file's text from the image's layers (the topmost layer that has it), via <c>skopeo copy</c> to a folder.</summary>
    public static async Task<string?> ReadFileAsync(string image, string architecture, string pathInImage)
    {
        var folder = Path.Combine(Path.GetTempPath(), "wave-pushed-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            await TestProcess.RunAsync(Skopeo, ["copy", "--src-tls-verify=false", "--override-arch", architecture, "docker://" + image, "dir:" + folder]);
            using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "manifest.json")));
            var layers = manifest.RootElement.GetProperty("layers").EnumerateArray()
                .Select(l => l.GetProperty("digest").GetString()!.Split(':')[1]).Reverse();
            foreach (var layer in layers)
            {
                await using var blob = File.OpenRead(Path.Combine(folder, layer));
                await using var gunzip = new GZipStream(blob, CompressionMode.Decompress);
                using var tar = new TarReader(gunzip);
                while (await tar.GetNextEntryAsync() is { } entry)
                {
                    if (entry.Name.TrimStart('.', '/') == pathInImage.TrimStart('/') && entry.DataStream is { } data)
                    {
                        using var reader = new StreamReader(data);
                        return await reader.ReadToEndAsync();
                    }
                }
            }
            return null;
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    public static async Task<string[]> TagsAsync(string repository)
    {
        var json = await TestProcess.RunAsync(Skopeo, ["list-tags", "--tls-verify=false", "docker://" + repository]);
        return JsonDocument.Parse(json).RootElement.GetProperty("Tags").EnumerateArray().Select(t => t.GetString()!).ToArray();
    }
}
