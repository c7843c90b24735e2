using System.Security.Cryptography.X509Certificates;

using k8s;
using k8s.Authentication;

namespace Wave.Builder.Kubernetes;

/// <summary>
/// <c>Wave:Build:Kubernetes</c>: where and how a build runs as a Kubernetes Job. Placeholders in
/// <see cref="Args"/> and <see cref="CacheArgs"/>: <c>{target}</c>, <c>{platform}</c>, <c>{cache}</c>,
/// <c>{workspace}</c>, <c>{buildId}</c>.
/// </summary>
public sealed class KubernetesBuildOptions
{
    public const string Section = "Wave:Build:Kubernetes";

    /// <summary>Where Kubernetes mounts a pod's service-account token, CA and namespace.</summary>
    public const string DefaultServiceAccountPath = "/var/run/secrets/kubernetes.io/serviceaccount";

    public static IReadOnlyList<string> DefaultCommand { get; } = ["buildctl-daemonless.sh"];

    public static IReadOnlyList<string> DefaultArgs { get; } =
    [
        "build", "--frontend", "dockerfile.v0",
        "--local", "context={workspace}", "--local", "dockerfile={workspace}",
        "--opt", "platform={platform}",
        "--output", "type=image,name={target},push=true",
    ];

    public static IReadOnlyList<string> DefaultCacheArgs { get; } =
    [
        "--export-cache", "type=registry,ref={cache},mode=max",
        "--import-cache", "type=registry,ref={cache}",
    ];

    /// <summary><c>auto</c> (in-cluster when the service variables are set, else kubeconfig), <c>in-cluster</c> or <c>kubeconfig</c>.</summary>
    public string Connection { get; set; } = "auto";

    /// <summary>The kubeconfig file; null means <c>KUBECONFIG</c> or <c>~/.kube/config</c>.</summary>
    public string? Kubeconfig { get; set; }

    /// <summary>The kubeconfig context; null means its current-context.</summary>
    public string? Context { get; set; }

    /// <summary>In-cluster: the folder with the service account's <c>token</c>, <c>ca.crt</c> and <c>namespace</c>.</summary>
    public string ServiceAccountPath { get; set; } = DefaultServiceAccountPath;

    /// <summary>The namespace builds run in; null means the service account's or the context's namespace.</summary>
    public string? Namespace { get; set; }

    public string Image { get; set; } = "moby/buildkit:v0.16.0-rootless";

    /// <summary>The container's command; null or empty means <see cref="DefaultCommand"/>.</summary>
    public List<string>? Command { get; set; }

    /// <summary>The container's arguments; null or empty means <see cref="DefaultArgs"/>.</summary>
    public List<string>? Args { get; set; }

    /// <summary>Appended to the arguments when the build has a cache repository; null or empty means <see cref="DefaultCacheArgs"/>.</summary>
    public List<string>? CacheArgs { get; set; }

    /// <summary>Per platform (<c>linux/amd64</c>) the node labels a build pod needs; a platform not listed gets <c>kubernetes.io/arch</c>.</summary>
    public Dictionary<string, Dictionary<string, string>> NodeSelectors { get; set; } = [];

    /// <summary>Container resource requests, e.g. <c>cpu: "1"</c>, <c>memory: 2Gi</c>.</summary>
    public Dictionary<string, string> Requests { get; set; } = [];

    public Dictionary<string, string> Limits { get; set; } = [];

    public string? ServiceAccountName { get; set; }

    /// <summary>Extra labels on the Job, its pod, the Secret and the ConfigMap.</summary>
    public Dictionary<string, string> Labels { get; set; } = [];

    /// <summary>
    /// Run BuildKit rootless the way its documentation asks: user 1000, seccomp and AppArmor unconfined (field and
    /// annotation), no process sandbox. Turn off for a builder image that needs none of it.
    /// </summary>
    public bool Rootless { get; set; } = true;

    /// <summary>Where the registry credentials are mounted (as <c>config.json</c>); also the container's DOCKER_CONFIG.</summary>
    public string DockerConfigPath { get; set; } = "/home/user/.docker";

    /// <summary>Where the Dockerfile and the context files are mounted.</summary>
    public string WorkspacePath { get; set; } = "/workspace";

    /// <summary>
    /// A PersistentVolumeClaim of the build namespace (ReadWriteMany) that this builder has mounted at
    /// <see cref="WorkspaceDirectory"/>: with both set, a build's recipe (Dockerfile, context files, frozen layers and the
    /// unpacked <c>buildContext</c>) is written to a folder of the build on that volume and mounted into the pod by
    /// <c>subPath</c>, as the Wave server's shared build workspace is, instead of travelling in a ConfigMap, which holds
    /// at most 1 MiB. Without them, a larger recipe fails the build with a message naming these settings.
    /// </summary>
    public string? WorkspaceClaim { get; set; }

    /// <summary>Where this builder process sees the volume of <see cref="WorkspaceClaim"/>.</summary>
    public string? WorkspaceDirectory { get; set; }

    /// <summary>Whether recipes go through <see cref="WorkspaceClaim"/> rather than a ConfigMap.</summary>
    internal bool HasSharedWorkspace => !string.IsNullOrWhiteSpace(WorkspaceClaim);

    /// <summary>Null when the options hang together; otherwise what is wrong, naming the settings.</summary>
    public string? Problem() => string.IsNullOrWhiteSpace(WorkspaceClaim) == string.IsNullOrWhiteSpace(WorkspaceDirectory) ? null
        : $"{Section}:WorkspaceClaim and {Section}:WorkspaceDirectory go together: the claim the build pods mount, and where this builder has the same volume mounted";

    /// <summary>How long Kubernetes keeps a finished Job if Wave could not delete it.</summary>
    public int TtlSecondsAfterFinished { get; set; } = 3600;

    /// <summary>How long past the build timeout Wave waits for Kubernetes to report the deadline before giving up itself.</summary>
    public TimeSpan DeadlineGrace { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Pause between looks at the pod while it starts, and between polls when watching is not allowed.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long the log is still read after the Job ended.</summary>
    public TimeSpan LogDrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Timeout of one API request (not of a watch or a followed log).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the API server keeps one watch of the Job open before Wave watches again from where it was.</summary>
    public TimeSpan WatchTimeout { get; set; } = TimeSpan.FromMinutes(5);

    internal IReadOnlyList<string> EffectiveCommand => Command is { Count: > 0 } ? Command : DefaultCommand;
    internal IReadOnlyList<string> EffectiveArgs => Args is { Count: > 0 } ? Args : DefaultArgs;
    internal IReadOnlyList<string> EffectiveCacheArgs => CacheArgs is { Count: > 0 } ? CacheArgs : DefaultCacheArgs;

    /// <summary>
    /// The client configuration these options describe: a kubeconfig file and context (KubernetesClient reads it:
    /// certificates, tokens, exec plugins), or the pod's own service account.
    /// </summary>
    /// <param name="environment">Reads an environment variable; the process environment when null.</param>
    public KubernetesClientConfiguration LoadConfiguration(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var configuration = Connection.ToLowerInvariant() switch
        {
            "in-cluster" => InCluster(environment),
            "kubeconfig" => FromKubeconfig(),
            "auto" => Kubeconfig is null && IsInCluster(environment) ? InCluster(environment) : FromKubeconfig(),
            _ => throw new InvalidOperationException($"{Section}:Connection must be auto, in-cluster or kubeconfig, not '{Connection}'."),
        };
        configuration.HttpClientTimeout = RequestTimeout;
        if (Namespace is { Length: > 0 } ns)
        {
            configuration.Namespace = ns;
        }
        return configuration;
    }

    private KubernetesClientConfiguration FromKubeconfig() =>
        KubernetesClientConfiguration.BuildConfigFromConfigFile(Kubeconfig, currentContext: Context);

    private bool IsInCluster(Func<string, string?> environment) =>
        !string.IsNullOrEmpty(environment("KUBERNETES_SERVICE_HOST")) && !string.IsNullOrEmpty(environment("KUBERNETES_SERVICE_PORT"))
        && File.Exists(Path.Combine(ServiceAccountPath, "token"));

    /// <summary>
    /// What <see cref="KubernetesClientConfiguration.InClusterConfig"/> does, from the package's own pieces, for a
    /// service-account folder that is an option here (the package reads only the default path and the process
    /// environment). <see cref="TokenFileAuth"/> reads the token again every minute, so a rotated token is picked up.
    /// </summary>
    private KubernetesClientConfiguration InCluster(Func<string, string?> environment)
    {
        var host = environment("KUBERNETES_SERVICE_HOST");
        var port = environment("KUBERNETES_SERVICE_PORT");
        if (string.IsNullOrEmpty(host) || string.IsNullOrEmpty(port))
        {
            throw new InvalidOperationException($"{Section}:Connection is in-cluster, but KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: Wave is not running in a pod.");
        }
        var token = Path.Combine(ServiceAccountPath, "token");
        var authority = Path.Combine(ServiceAccountPath, "ca.crt");
        if (!File.Exists(token) || !File.Exists(authority))
        {
            throw new InvalidOperationException($"{Section}:Connection is in-cluster, but {ServiceAccountPath} holds no service-account token and ca.crt (automountServiceAccountToken off?).");
        }
        var namespaceFile = Path.Combine(ServiceAccountPath, "namespace");
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(authority);
        return new KubernetesClientConfiguration
        {
            Host = new UriBuilder("https", host, int.Parse(port, System.Globalization.CultureInfo.InvariantCulture)).Uri.ToString(),
            TokenProvider = new TokenFileAuth(token),
            SslCaCerts = roots,
            Namespace = File.Exists(namespaceFile) ? File.ReadAllText(namespaceFile).Trim() : null,
        };
    }
}
