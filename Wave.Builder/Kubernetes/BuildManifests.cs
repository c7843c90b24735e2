using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

using k8s.Models;

using Wave.Core.Builds;
using Wave.Core.Registry;

namespace Wave.Builder.Kubernetes;

/// <summary>The Secret, ConfigMap and Job of one build, as KubernetesClient's models. Pure functions.</summary>
public static partial class BuildManifests
{
    /// <summary>A ConfigMap holds at most 1 MiB; the recipe must fit with room for the object's own fields.</summary>
    public const int MaxContextBytes = 1_000_000;

    public const string DockerConfigKey = ".dockerconfigjson";

    private const string DockerHubConfigKey = "https://index.docker.io/v1/";

    public static V1Secret Secret(KubernetesBuildNames names, string @namespace, BuildJob job, IReadOnlyDictionary<string, RegistryCredentials> credentials, KubernetesBuildOptions options)
    {
        var auths = new JsonObject();
        foreach (var (registry, login) in credentials)
        {
            auths[ConfigKeyOf(registry)] = new JsonObject
            {
                ["username"] = login.Username,
                ["password"] = login.Password,
                ["auth"] = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{login.Username}:{login.Password}")),
            };
        }
        return new V1Secret
        {
            ApiVersion = "v1",
            Kind = "Secret",
            Metadata = Metadata(names.Secret, @namespace, names, job, options),
            Type = "kubernetes.io/dockerconfigjson",
            Data = new Dictionary<string, byte[]> { [DockerConfigKey] = Encoding.UTF8.GetBytes(new JsonObject { ["auths"] = auths }.ToJsonString()) },
        };
    }

    /// <summary>The Dockerfile under key <c>Dockerfile</c>, the context files under <c>context-N</c> (keys cannot hold '/').</summary>
    /// <exception cref="BuildContextException">A context path that escapes the workspace, or more than <see cref="MaxContextBytes"/>.</exception>
    public static V1ConfigMap ConfigMap(KubernetesBuildNames names, string @namespace, BuildJob job, KubernetesBuildOptions options)
    {
        var data = new Dictionary<string, string> { ["Dockerfile"] = job.Dockerfile };
        var size = Encoding.UTF8.GetByteCount(job.Dockerfile);
        foreach (var (key, (path, content)) in ContextEntries(job))
        {
            data[key] = content;
            size += Encoding.UTF8.GetByteCount(content) + path.Length;
        }
        var binaryData = new Dictionary<string, byte[]>();
        foreach (var (key, (path, content)) in BinaryEntries(job))
        {
            binaryData[key] = content;
            // Sent as base64.
            size += (content.Length + 2) / 3 * 4 + path.Length;
        }
        if (ContextArchive(job) is { } archive)
        {
            binaryData[ContextArchiveKey] = archive;
            size += (archive.Length + 2) / 3 * 4 + ContextArchiveKey.Length;
        }
        if (size > MaxContextBytes)
        {
            throw new BuildContextException($"the Dockerfile and context files ({size} bytes) exceed the {MaxContextBytes} bytes a ConfigMap can hold; " +
                $"a shared build workspace has no such limit ({KubernetesBuildOptions.Section}:WorkspaceClaim and {KubernetesBuildOptions.Section}:WorkspaceDirectory)");
        }
        return new V1ConfigMap
        {
            ApiVersion = "v1",
            Kind = "ConfigMap",
            Metadata = Metadata(names.ConfigMap, @namespace, names, job, options),
            Data = data,
            BinaryData = binaryData.Count > 0 ? binaryData : null,
        };
    }

    /// <summary>
    /// Checks a recipe that goes through the shared workspace (<see cref="KubernetesBuildOptions.WorkspaceClaim"/>) as
    /// <see cref="ConfigMap"/> checks one it ships: plain relative paths, remote layers and the buildContext fetched.
    /// </summary>
    /// <exception cref="BuildContextException">What is wrong with the recipe.</exception>
    public static void CheckWorkspaceRecipe(BuildJob job)
    {
        _ = ContextEntries(job).Count() + BinaryEntries(job).Count();
        _ = ContextArchive(job);
    }

    public static V1Job Job(KubernetesBuildNames names, string @namespace, BuildJob job, KubernetesBuildOptions options)
    {
        // The shared workspace holds the recipe with its buildContext unpacked (by the builder); a ConfigMap's recipe
        // with a buildContext is unpacked by an init container into a folder of the pod.
        var shared = options.HasSharedWorkspace;
        var unpacked = !shared && ContextArchive(job) is not null;
        var container = new V1Container
        {
            Name = KubernetesBuildNames.ContainerName,
            Image = options.Image,
            Command = [.. options.EffectiveCommand],
            Args = [.. Arguments(job, options)],
            Env = Env(options),
            VolumeMounts =
            [
                // With a buildContext the workspace is the folder the init container filled; otherwise the recipe itself.
                unpacked
                    ? new V1VolumeMount { Name = ContextVolume, MountPath = options.WorkspacePath, ReadOnlyProperty = true }
                    : new V1VolumeMount { Name = "workspace", MountPath = options.WorkspacePath, SubPath = shared ? WorkspaceFolder(names) : null, ReadOnlyProperty = true },
                new V1VolumeMount { Name = "docker-config", MountPath = options.DockerConfigPath, ReadOnlyProperty = true },
                new V1VolumeMount { Name = "buildkit-state", MountPath = "/home/user/.local/share/buildkit" },
            ],
        };
        if (options.Requests.Count > 0 || options.Limits.Count > 0)
        {
            container.Resources = new V1ResourceRequirements
            {
                Requests = options.Requests.Count > 0 ? Quantities(options.Requests) : null,
                Limits = options.Limits.Count > 0 ? Quantities(options.Limits) : null,
            };
        }
        if (options.Rootless)
        {
            container.SecurityContext = new V1SecurityContext
            {
                RunAsUser = 1000,
                RunAsGroup = 1000,
                SeccompProfile = new V1SeccompProfile { Type = "Unconfined" },
                AppArmorProfile = new V1AppArmorProfile { Type = "Unconfined" },
            };
        }

        var podSpec = new V1PodSpec
        {
            RestartPolicy = "Never",
            NodeSelector = new Dictionary<string, string>(NodeSelector(job.Platform, options)),
            Containers = [container],
            Volumes =
            [
                shared
                    ? new V1Volume
                    {
                        Name = "workspace",
                        PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = options.WorkspaceClaim, ReadOnlyProperty = true },
                    }
                    : new V1Volume { Name = "workspace", ConfigMap = new V1ConfigMapVolumeSource { Name = names.ConfigMap, Items = WorkspaceItems(job) } },
                new V1Volume
                {
                    Name = "docker-config",
                    Secret = new V1SecretVolumeSource { SecretName = names.Secret, Items = [new V1KeyToPath { Key = DockerConfigKey, Path = "config.json" }] },
                },
                new V1Volume { Name = "buildkit-state", EmptyDir = new V1EmptyDirVolumeSource() },
            ],
        };
        if (unpacked)
        {
            podSpec.Volumes.Add(new V1Volume { Name = ContextVolume, EmptyDir = new V1EmptyDirVolumeSource() });
            podSpec.InitContainers = [ContextInitContainer(job, options, container.SecurityContext)];
        }
        if (options.ServiceAccountName is { Length: > 0 } serviceAccount)
        {
            podSpec.ServiceAccountName = serviceAccount;
        }
        else
        {
            // The build needs no access to the API: do not hand it the default account's token.
            podSpec.AutomountServiceAccountToken = false;
        }

        var podMetadata = new V1ObjectMeta { Labels = Labels(names, job, options) };
        if (options.Rootless)
        {
            // The pre-1.30 way to lift AppArmor, which BuildKit's rootless examples still use; newer servers accept both.
            podMetadata.Annotations = new Dictionary<string, string> { [$"container.apparmor.security.beta.kubernetes.io/{KubernetesBuildNames.ContainerName}"] = "unconfined" };
        }

        return new V1Job
        {
            ApiVersion = "batch/v1",
            Kind = "Job",
            Metadata = Metadata(names.Job, @namespace, names, job, options),
            Spec = new V1JobSpec
            {
                BackoffLimit = 0,
                ActiveDeadlineSeconds = (long)Math.Ceiling(Math.Max(1, job.Timeout.TotalSeconds)),
                TtlSecondsAfterFinished = options.TtlSecondsAfterFinished,
                Template = new V1PodTemplateSpec { Metadata = podMetadata, Spec = podSpec },
            },
        };
    }

    /// <summary>
    /// The builder's arguments with the placeholders filled; the cache arguments only when there is a cache; a
    /// <c>buildCompression</c> as attributes of the image output.
    /// </summary>
    /// <exception cref="BuildContextException">A compression asked for and no <c>--output type=image</c> argument to carry it.</exception>
    public static IReadOnlyList<string> Arguments(BuildJob job, KubernetesBuildOptions options)
    {
        var template = string.IsNullOrEmpty(job.CacheRepository) ? options.EffectiveArgs : [.. options.EffectiveArgs, .. options.EffectiveCacheArgs];
        List<string> arguments = [.. template.Select(argument => argument
            .Replace("{target}", job.TargetImage, StringComparison.Ordinal)
            .Replace("{platform}", job.Platform, StringComparison.Ordinal)
            .Replace("{cache}", job.CacheRepository ?? "", StringComparison.Ordinal)
            .Replace("{workspace}", options.WorkspacePath, StringComparison.Ordinal)
            .Replace("{buildId}", job.BuildId, StringComparison.Ordinal))];
        if (job.Compression is { } compression)
        {
            var output = ImageOutputIndex(arguments)
                ?? throw new BuildContextException($"the builder's arguments (Wave:Build:Kubernetes:Args) have no '--output type=image,…' to carry buildCompression ({compression})");
            arguments[output] += CompressionAttributes(compression);
        }
        return arguments;
    }

    /// <summary>
    /// BuildKit's image exporter attributes for a compression: the mode and level as given, <c>force-compression</c>
    /// when forced (BuildKit, unlike the local backend's buildah, recompresses the base image's layers too), and OCI
    /// media types for zstd and estargz layers, which Docker's media types cannot name. Which modes and force the API
    /// accepts is the operator's (<c>Wave:Build:Compressions</c>, <c>Wave:Build:CanForceCompression</c>).
    /// </summary>
    private static string CompressionAttributes(BuildCompression compression)
    {
        var attributes = new StringBuilder($",compression={compression.Mode}");
        if (compression.Level is { } level)
        {
            attributes.Append(CultureInfo.InvariantCulture, $",compression-level={level}");
        }
        if (compression.Force)
        {
            attributes.Append(",force-compression=true");
        }
        if (compression.Mode is BuildCompression.Zstd or BuildCompression.Estargz)
        {
            attributes.Append(",oci-mediatypes=true");
        }
        return attributes.ToString();
    }

    /// <summary>The index of the value of <c>--output type=image,…</c> (or <c>--output=type=image,…</c>), null when there is none.</summary>
    private static int? ImageOutputIndex(List<string> arguments)
    {
        for (var i = 0; i < arguments.Count; i++)
        {
            var value = arguments[i].StartsWith("--output=", StringComparison.Ordinal) ? arguments[i]["--output=".Length..]
                : i > 0 && arguments[i - 1] == "--output" ? arguments[i] : null;
            if (value is not null && (value.StartsWith("type=image", StringComparison.Ordinal) || value.StartsWith("type=registry", StringComparison.Ordinal)))
            {
                return i;
            }
        }
        return null;
    }

    public static IReadOnlyDictionary<string, string> NodeSelector(string platform, KubernetesBuildOptions options)
    {
        if (options.NodeSelectors.TryGetValue(platform, out var configured))
        {
            return configured;
        }
        var architecture = platform.Split('/') is [_, var arch, ..] ? arch : platform;
        return new Dictionary<string, string> { ["kubernetes.io/arch"] = architecture };
    }

    private static List<V1EnvVar> Env(KubernetesBuildOptions options)
    {
        List<V1EnvVar> env = [new V1EnvVar { Name = "DOCKER_CONFIG", Value = options.DockerConfigPath }];
        if (options.Rootless)
        {
            env.Add(new V1EnvVar { Name = "BUILDKITD_FLAGS", Value = "--oci-worker-no-process-sandbox" });
        }
        return env;
    }

    private static List<V1KeyToPath> WorkspaceItems(BuildJob job) =>
    [
        new V1KeyToPath { Key = "Dockerfile", Path = "Dockerfile" },
        .. ContextEntries(job).Select(entry => new V1KeyToPath { Key = entry.Key, Path = entry.Value.Path }),
        .. BinaryEntries(job).Select(entry => new V1KeyToPath { Key = entry.Key, Path = entry.Value.Path }),
        .. ContextArchive(job) is null ? Array.Empty<V1KeyToPath>() : [new V1KeyToPath { Key = ContextArchiveKey, Path = ContextArchiveKey }],
    ];

    /// <summary>The build's folder on the shared workspace volume (named like its Job: unique per build id, a plain name).</summary>
    public static string WorkspaceFolder(KubernetesBuildNames names) => names.Job;

    /// <summary>The ConfigMap key (and file name in the recipe volume) of a buildContext archive.</summary>
    public const string ContextArchiveKey = "build-context.tar.gz";

    private const string ContextVolume = "context";

    /// <summary>Where the init container sees the recipe (the ConfigMap) when a buildContext is unpacked.</summary>
    public const string RecipePath = "/wave-recipe";

    /// <summary>
    /// The init container's script: the archive is unpacked into the workspace first, then the recipe's own files are
    /// copied over it (as the local backend does), each named as a positional argument, never spliced into the script.
    /// The archive's entries were checked when it was accepted or fetched (<see cref="BuildContextTar"/>); tar run
    /// as a non-root user keeps no owners.
    /// </summary>
    public const string ContextScript =
        "set -eu; tar -xzf \"$RECIPE/" + ContextArchiveKey + "\" -C \"$WORKSPACE\"; " +
        "for f in \"$@\"; do mkdir -p \"$WORKSPACE/$(dirname \"$f\")\"; rm -rf \"$WORKSPACE/$f\"; cp \"$RECIPE/$f\" \"$WORKSPACE/$f\"; done";

    private static V1Container ContextInitContainer(BuildJob job, KubernetesBuildOptions options, V1SecurityContext? securityContext) => new()
    {
        Name = "unpack-context",
        Image = options.Image,
        Command = ["sh", "-c", ContextScript, "unpack-context", .. WorkspaceItems(job).Where(i => i.Key != ContextArchiveKey).Select(i => i.Path)],
        Env =
        [
            new V1EnvVar { Name = "RECIPE", Value = RecipePath },
            new V1EnvVar { Name = "WORKSPACE", Value = options.WorkspacePath },
        ],
        VolumeMounts =
        [
            new V1VolumeMount { Name = "workspace", MountPath = RecipePath, ReadOnlyProperty = true },
            new V1VolumeMount { Name = ContextVolume, MountPath = options.WorkspacePath },
        ],
        SecurityContext = securityContext,
    };

    /// <summary>The buildContext archive to ship, null without one.</summary>
    /// <exception cref="BuildContextException">A buildContext the builder has not fetched.</exception>
    private static byte[]? ContextArchive(BuildJob job) => job.BuildContext switch
    {
        null => null,
        { Data: { } data } => data,
        { Location: var location } => throw new BuildContextException($"the build context {location} has not been fetched"),
    };

    /// <summary>Binary context files (frozen layers) under keys <c>binary-N</c> of the ConfigMap's <c>binaryData</c>.</summary>
    private static IEnumerable<KeyValuePair<string, (string Path, byte[] Content)>> BinaryEntries(BuildJob job)
    {
        if (job.RemoteLayers.Count > 0)
        {
            throw new BuildContextException($"the remote layer {job.RemoteLayers[0].Location} has not been fetched into the build context");
        }
        var index = 0;
        foreach (var (path, content) in job.BinaryContextFiles.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            yield return new($"binary-{index++}", (PlainRelativePath(path), content));
        }
    }

    private static string PlainRelativePath(string path)
    {
        var normalized = path.Replace('\\', '/');
        while (normalized.StartsWith("./", StringComparison.Ordinal))
        {
            normalized = normalized[2..];
        }
        if (normalized.Length == 0 || normalized.StartsWith('/') || normalized.Split('/').Any(segment => segment is ".." or "." or "") || normalized == "Dockerfile")
        {
            throw new BuildContextException($"the context file path '{path}' is not a plain relative path");
        }
        return normalized;
    }

    private static IEnumerable<KeyValuePair<string, (string Path, string Content)>> ContextEntries(BuildJob job)
    {
        var index = 0;
        foreach (var (path, content) in job.ContextFiles.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            yield return new($"context-{index++}", (PlainRelativePath(path), content));
        }
    }

    private static V1ObjectMeta Metadata(string name, string @namespace, KubernetesBuildNames names, BuildJob job, KubernetesBuildOptions options) => new()
    {
        Name = name,
        NamespaceProperty = @namespace,
        Labels = Labels(names, job, options),
    };

    private static Dictionary<string, string> Labels(KubernetesBuildNames names, BuildJob job, KubernetesBuildOptions options)
    {
        var labels = new Dictionary<string, string>(options.Labels)
        {
            ["app.kubernetes.io/managed-by"] = "wave",
            [KubernetesBuildNames.BuildIdLabelKey] = names.BuildIdLabel,
        };
        if (LabelValue().IsMatch(job.ContainerId))
        {
            labels["wave.seqera.io/container-id"] = job.ContainerId;
        }
        return labels;
    }

    private static string ConfigKeyOf(string registry) =>
        registry is "docker.io" or "index.docker.io" or "registry-1.docker.io" ? DockerHubConfigKey : registry;

    private static Dictionary<string, ResourceQuantity> Quantities(Dictionary<string, string> values) =>
        values.ToDictionary(v => v.Key, v => new ResourceQuantity(v.Value));

    [GeneratedRegex("^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")]
    private static partial Regex LabelValue();
}

/// <summary>The build's recipe cannot be shipped to the cluster (a bad path, too large for a ConfigMap).</summary>
public sealed class BuildContextException(string message) : Exception(message);
