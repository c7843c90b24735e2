namespace Wave.Builder.Local;

/// <summary>
/// How the local backend runs buildah (configuration section <c>Wave:Build:Local</c>). Buildah runs daemonless on
/// the vfs storage driver with chroot isolation, which works without a container runtime, overlay support or
/// user namespaces; its storage is private to this process' work directory.
/// </summary>
public sealed class LocalBuildOptions
{
    public const string SectionName = "Wave:Build:Local";

    /// <summary>The buildah executable (a name found on PATH, or a full path).</summary>
    public string BuildahPath { get; set; } = "buildah";

    /// <summary>Where build contexts and (unless set on their own) buildah's storage live.</summary>
    public string WorkDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "wave-buildah");

    /// <summary>buildah <c>--root</c>: images and layers, kept between builds (the <c>--layers</c> cache). Default: <c>{WorkDirectory}/storage</c>.</summary>
    public string? StorageRoot { get; set; }

    /// <summary>buildah <c>--runroot</c>: lock and state files. Default: <c>{WorkDirectory}/run</c>.</summary>
    public string? RunRoot { get; set; }

    /// <summary>Parent of the per-build context folders. Default: <c>{WorkDirectory}/contexts</c>.</summary>
    public string? ContextDirectory { get; set; }

    /// <summary>
    /// Registries spoken to over plain HTTP or with unverified certificates (<c>host[:port]</c>). Loopback
    /// registries (<c>localhost</c>, <c>127.x</c>, <c>::1</c>) always are.
    /// </summary>
    public List<string> InsecureRegistries { get; set; } = [];

    /// <summary>buildah <c>--isolation</c> for RUN steps.</summary>
    public string Isolation { get; set; } = "chroot";

    /// <summary>buildah <c>--storage-driver</c>.</summary>
    public string StorageDriver { get; set; } = "vfs";

    /// <summary>Manifest format of the built image: <c>docker</c> (v2 schema 2) or <c>oci</c>.</summary>
    public string ImageFormat { get; set; } = "docker";

    /// <summary>The folder binfmt_misc is mounted on; foreign-architecture RUN steps go through its qemu entries.</summary>
    public string BinfmtDirectory { get; set; } = "/proc/sys/fs/binfmt_misc";

    internal string ResolvedStorageRoot => StorageRoot ?? Path.Combine(WorkDirectory, "storage");
    internal string ResolvedRunRoot => RunRoot ?? Path.Combine(WorkDirectory, "run");

    /// <summary>
    /// One buildah store per platform, under <see cref="ResolvedStorageRoot"/> and <see cref="ResolvedRunRoot"/>: buildah
    /// keeps a pulled base image under its name, so two builds of one multi-arch name for two platforms at once (the
    /// halves of a multi-platform build) would retag it under each other ("image not known"). Builds of one platform
    /// share their store and its layer cache.
    /// </summary>
    internal static string StoreKey(string platform) => platform.Replace('/', '-');

    /// <summary>The store keys that exist on disk (for housekeeping over every store).</summary>
    internal IEnumerable<string> ExistingStoreKeys() => Directory.Exists(ResolvedStorageRoot)
        ? Directory.EnumerateDirectories(ResolvedStorageRoot).Select(Path.GetFileName).OfType<string>().Where(name => name.StartsWith("linux-", StringComparison.Ordinal))
        : [];
    internal string ResolvedContextDirectory => ContextDirectory ?? Path.Combine(WorkDirectory, "contexts");
    internal string TempDirectory => Path.Combine(WorkDirectory, "tmp");
}
