using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

using Wave.Core.Builds.Singularity;
using Wave.Core.Digests;
using Wave.Core.Manifests;
using Wave.Core.Names;
using Wave.Core.Registry;
using Wave.Core.Sif;

namespace Wave.Builder.Sif;

/// <summary>A SIF file made from an image.</summary>
/// <param name="Path">Where the file is.</param>
/// <param name="Digest">sha256 of the whole file (the digest of the pushed layer).</param>
/// <param name="Size">Its length in bytes.</param>
/// <param name="SourceManifestDigest">The digest of the image manifest it was made from.</param>
public sealed record SifImageFile(string Path, string Digest, long Size, string SourceManifestDigest);

/// <summary>A SIF pushed as an ORAS artifact.</summary>
/// <param name="Location"><c>oras://registry/repository:tag</c>, what <c>singularity pull</c> takes.</param>
/// <param name="ManifestDigest">The digest of the artifact's manifest (<c>oras://registry/repository@digest</c> pins it).</param>
/// <param name="SifDigest">sha256 of the SIF file.</param>
/// <param name="SifSize">Its length in bytes.</param>
public sealed record SifPushResult(string Location, string ManifestDigest, string SifDigest, long SifSize);

/// <summary>
/// Turns a pushed container image into a Singularity image and pushes it: flatten the image's layers into a root
/// filesystem, complete <c>/.singularity.d/</c> (environment from the image config, a runscript from its entrypoint and
/// cmd unless the image has one, labels), pack it with mksquashfs, write a SIF holding the definition file and the
/// squashfs, and push that as an ORAS artifact. Independent of the build queue: it needs a registry and mksquashfs.
/// See README.md next to this file for how it composes with a definition-file build.
/// </summary>
public sealed class SifImageBuilder
{
    private readonly HttpClient _http;
    private readonly IOptions<RegistryOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly string _workRoot;

    /// <param name="http">Must not follow redirects (as for <see cref="RegistryClient"/>); long enough a timeout for a chunk upload.</param>
    /// <param name="options">Registries configured with credentials and insecure (plain HTTP) flags; used when a call gives none for a registry.</param>
    /// <param name="workDirectory">Where the temporary root filesystems and files go (default: the temp directory).</param>
    public SifImageBuilder(HttpClient http, IOptions<RegistryOptions> options, TimeProvider time, ILoggerFactory? loggers = null, string? workDirectory = null)
    {
        _http = http;
        _options = options;
        _time = time;
        _loggers = loggers ?? NullLoggerFactory.Instance;
        _workRoot = workDirectory ?? Path.Combine(Path.GetTempPath(), "wave-sif");
    }

    /// <summary>
    /// The whole conversion: <paramref name="sourceImage"/> (e.g. the image a translated definition file was built into)
    /// becomes a SIF for <paramref name="platform"/>, pushed to <paramref name="targetImage"/> (<c>registry/repository:tag</c>).
    /// <paramref name="definitionText"/> is stored in the SIF as its definition file (null: none). Credentials are per
    /// registry host and used for both the pull and the push; configured ones fill in for hosts not given.
    /// </summary>
    public async Task<SifPushResult> BuildAndPushAsync(string sourceImage, string targetImage, string? definitionText, ContainerPlatform platform,
        IReadOnlyDictionary<string, RegistryCredentials> credentials, CancellationToken cancellationToken)
    {
        var work = NewWorkDirectory();
        try
        {
            var sif = await BuildAsync(sourceImage, definitionText, platform, credentials, Path.Combine(work, "image.sif"), cancellationToken);
            return await PushAsync(sif.Path, targetImage, credentials, cancellationToken: cancellationToken);
        }
        finally
        {
            DeleteQuietly(work);
        }
    }

    /// <summary>
    /// Writes the SIF of <paramref name="sourceImage"/> to <paramref name="sifPath"/>. The file depends only on the image
    /// and the definition: its id is derived from both, its time is the image's creation time (the epoch when the
    /// config has none).
    /// </summary>
    public async Task<SifImageFile> BuildAsync(string sourceImage, string? definitionText, ContainerPlatform platform,
        IReadOnlyDictionary<string, RegistryCredentials> credentials, string sifPath, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(platform);
        var image = ImageReference.Parse(sourceImage);
        var registry = ClientFor(credentials);
        var work = NewWorkDirectory();
        try
        {
            var root = new RootFilesystem(Path.Combine(work, "rootfs"));
            var flattened = await ImageFlattener.FlattenAsync(registry, image, platform, root, cancellationToken);
            await CompleteSingularityFilesAsync(root, flattened.Config, cancellationToken);

            var time = CreatedAt(flattened.Config);
            var squashfs = Path.Combine(work, "rootfs.squashfs");
            await Squashfs.CreateAsync(root.Root, squashfs, time, cancellationToken);

            var objects = new List<SifDataObject>();
            if (definitionText is not null)
            {
                objects.Add(SifDataObject.Definition(definitionText));
            }
            objects.Add(SifDataObject.Labels(Encoding.UTF8.GetBytes(SingularityRuntimeFiles.LabelsJson(Labels(flattened.Config)))));
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(sifPath))!);
            await using (var partition = new FileStream(squashfs, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan))
            await using (var output = new FileStream(sifPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous))
            {
                objects.Add(SifDataObject.SquashfsRoot(partition, partition.Length, platform));
                await SifWriter.WriteAsync(output, ImageId(flattened.ManifestDigest, definitionText), time, objects, cancellationToken);
            }
            string digest;
            await using (var written = new FileStream(sifPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan))
            {
                digest = await Digest.Sha256Async(written, cancellationToken);
            }
            return new SifImageFile(sifPath, digest, new FileInfo(sifPath).Length, flattened.ManifestDigest);
        }
        finally
        {
            DeleteQuietly(work);
        }
    }

    /// <summary>
    /// Pushes a SIF file as an ORAS artifact (the layout <c>singularity push oras://</c> makes): the empty config, the
    /// file as the one layer titled <c>&lt;repository name&gt;.sif</c>, an OCI manifest under the tag.
    /// </summary>
    public async Task<SifPushResult> PushAsync(string sifPath, string targetImage, IReadOnlyDictionary<string, RegistryCredentials> credentials,
        long chunkSize = RegistryClient.DefaultUploadChunkSize, CancellationToken cancellationToken = default)
    {
        var target = ImageReference.Parse(targetImage);
        if (target.Digest is not null)
        {
            throw new ArgumentException($"the target {targetImage} must name a tag, not a digest", nameof(targetImage));
        }
        var registry = ClientFor(credentials);
        var sif = await registry.PushBlobFileAsync(target.Registry, target.Repository, sifPath, chunkSize: chunkSize, cancellationToken: cancellationToken);
        await registry.PushBlobAsync(target.Registry, target.Repository, SifArtifact.Config, cancellationToken);
        var fileName = target.Repository[(target.Repository.LastIndexOf('/') + 1)..] + ".sif";
        var manifest = SifArtifact.Manifest(sif.Digest, sif.Size, fileName);
        var tag = target.Tag ?? "latest";
        var manifestDigest = await registry.PushManifestAsync(target.Registry, target.Repository, tag, manifest, MediaTypes.OciManifest, cancellationToken);
        return new SifPushResult($"oras://{target.Registry}/{target.Repository}:{tag}", manifestDigest, sif.Digest, sif.Size);
    }

    /// <summary>
    /// What <c>singularity build</c> puts into <c>/.singularity.d/</c> for a Docker image, where the image does not
    /// already have it (a translated definition file brings its own runscript, environment and labels), and the
    /// directories a runtime mounts over.
    /// </summary>
    private static async Task CompleteSingularityFilesAsync(RootFilesystem root, ImageConfig config, CancellationToken cancellationToken)
    {
        const UnixFileMode Executable = (UnixFileMode)0b111_101_101;
        const UnixFileMode Readable = (UnixFileMode)0b110_100_100;
        foreach (var directory in new[] { ".singularity.d/env", ".singularity.d/actions", ".singularity.d/libs", "proc", "sys", "dev", "tmp", "home", "mnt" })
        {
            root.EnsureDirectory(directory);
        }
        await root.WriteFileAsync(SingularityRuntimeFiles.DockerEnvironmentPath, SingularityRuntimeFiles.DockerEnvironmentScript(config.Config?.Env), Executable, cancellationToken);
        if (!root.Exists(SingularityRuntimeFiles.EnvironmentPath))
        {
            await root.WriteFileAsync(SingularityRuntimeFiles.EnvironmentPath, SingularityRuntimeFiles.EnvironmentScript(null), Executable, cancellationToken);
        }
        if (!root.Exists(SingularityRuntimeFiles.RunscriptPath))
        {
            await root.WriteFileAsync(SingularityRuntimeFiles.RunscriptPath,
                SingularityRuntimeFiles.DefaultRunscript(config.Config?.Entrypoint, config.Config?.Cmd), Executable, cancellationToken);
        }
        if (!root.Exists(SingularityRuntimeFiles.LabelsPath))
        {
            await root.WriteFileAsync(SingularityRuntimeFiles.LabelsPath, SingularityRuntimeFiles.LabelsJson(Labels(config)), Readable, cancellationToken);
        }
        root.EnsureSymlink("singularity", SingularityRuntimeFiles.RunscriptPath);
    }

    /// <summary>The image config's <c>Labels</c> (not modelled by <see cref="ContainerSettings"/>), sorted by name.</summary>
    private static IEnumerable<KeyValuePair<string, string>> Labels(ImageConfig config)
    {
        if (config.Config?.ExtensionData?.TryGetValue("Labels", out var labels) != true || labels.ValueKind != JsonValueKind.Object)
        {
            return [];
        }
        return labels.EnumerateObject()
            .Where(p => p.Value.ValueKind == JsonValueKind.String)
            .Select(p => new KeyValuePair<string, string>(p.Name, p.Value.GetString()!))
            .OrderBy(p => p.Key, StringComparer.Ordinal)
            .ToList();
    }

    private static DateTimeOffset CreatedAt(ImageConfig config) =>
        config.ExtensionData?.TryGetValue("created", out var created) == true && created.ValueKind == JsonValueKind.String
        && DateTimeOffset.TryParse(created.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
        && time >= DateTimeOffset.UnixEpoch
            ? time
            : DateTimeOffset.UnixEpoch;

    /// <summary>A UUID (version 8, "custom") from the image and the definition, so that the same inputs give the same file.</summary>
    private static Guid ImageId(string manifestDigest, string? definition)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(manifestDigest + "\n" + definition));
        hash[6] = (byte)((hash[6] & 0x0f) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3f) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }

    private RegistryClient ClientFor(IReadOnlyDictionary<string, RegistryCredentials> credentials) =>
        new(_http, new GivenCredentials(credentials, new ConfiguredRegistryCredentials(_options)), _options, _time, _loggers.CreateLogger<RegistryClient>());

    private string NewWorkDirectory()
    {
        var path = Path.Combine(_workRoot, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    private static void DeleteQuietly(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>The call's credentials for a host, else the configured ones.</summary>
    private sealed class GivenCredentials(IReadOnlyDictionary<string, RegistryCredentials> given, IRegistryCredentialsProvider fallback) : IRegistryCredentialsProvider
    {
        public ValueTask<RegistryCredentials?> GetAsync(string registry, CancellationToken cancellationToken = default)
        {
            foreach (var (host, login) in given)
            {
                if (string.Equals(host, registry, StringComparison.OrdinalIgnoreCase))
                {
                    return ValueTask.FromResult<RegistryCredentials?>(login);
                }
            }
            return fallback.GetAsync(registry, cancellationToken);
        }
    }
}
