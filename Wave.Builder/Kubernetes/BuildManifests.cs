using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

using Wave.Core.Builds;
using Wave.Core.Registry;

namespace Wave.Builder.Kubernetes;

/// <summary>The Secret, ConfigMap and Job of one build, as the JSON the API server takes. Pure functions.</summary>
public static partial class BuildManifests
{
    /// <summary>A ConfigMap holds at most 1 MiB; the recipe must fit with room for the object's own fields.</summary>
    public const int MaxContextBytes = 1_000_000;

    private const string DockerHubConfigKey = "https://index.docker.io/v1/";

    public static JsonObject Secret(KubernetesBuildNames names, string @namespace, BuildJob job, IReadOnlyDictionary<string, RegistryCredentials> credentials, KubernetesBuildOptions options)
    {
        var auths = new JsonObject();
        foreach (var (registry, login) in credentials)
        {
            auths[DockerConfigKey(registry)] = new JsonObject
            {
                ["username"] = login.Username,
                ["password"] = login.Password,
                ["auth"] = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{login.Username}:{login.Password}")),
            };
        }
        var dockerConfig = new JsonObject { ["auths"] = auths }.ToJsonString();
        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Secret",
            ["metadata"] = Metadata(names.Secret, @namespace, names, job, options),
            ["type"] = "kubernetes.io/dockerconfigjson",
            ["data"] = new JsonObject { [".dockerconfigjson"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(dockerConfig)) },
        };
    }

    /// <summary>The Dockerfile under key <c>Dockerfile</c>, the context files under <c>context-N</c> (keys cannot hold '/').</summary>
    /// <exception cref="BuildContextException">A context path that escapes the workspace, or more than <see cref="MaxContextBytes"/>.</exception>
    public static JsonObject ConfigMap(KubernetesBuildNames names, string @namespace, BuildJob job, KubernetesBuildOptions options)
    {
        var data = new JsonObject { ["Dockerfile"] = job.Dockerfile };
        var size = Encoding.UTF8.GetByteCount(job.Dockerfile);
        foreach (var (key, (path, content)) in ContextEntries(job))
        {
            data[key] = content;
            size += Encoding.UTF8.GetByteCount(content) + path.Length;
        }
        var binaryData = new JsonObject();
        foreach (var (key, (path, content)) in BinaryEntries(job))
        {
            var encoded = Convert.ToBase64String(content);
            binaryData[key] = encoded;
            size += encoded.Length + path.Length;
        }
        if (size > MaxContextBytes)
        {
            throw new BuildContextException($"the Dockerfile and context files ({size} bytes) exceed the {MaxContextBytes} bytes a ConfigMap can hold");
        }
        var configMap = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "ConfigMap",
            ["metadata"] = Metadata(names.ConfigMap, @namespace, names, job, options),
            ["data"] = data,
        };
        if (binaryData.Count > 0)
        {
            configMap["binaryData"] = binaryData;
        }
        return configMap;
    }

    public static JsonObject Job(KubernetesBuildNames names, string @namespace, BuildJob job, KubernetesBuildOptions options)
    {
        var container = new JsonObject
        {
            ["name"] = KubernetesBuildNames.ContainerName,
            ["image"] = options.Image,
            ["command"] = Strings(options.EffectiveCommand),
            ["args"] = Strings(Arguments(job, options)),
            ["env"] = Env(options),
            ["volumeMounts"] = new JsonArray
            {
                new JsonObject { ["name"] = "workspace", ["mountPath"] = options.WorkspacePath, ["readOnly"] = true },
                new JsonObject { ["name"] = "docker-config", ["mountPath"] = options.DockerConfigPath, ["readOnly"] = true },
                new JsonObject { ["name"] = "buildkit-state", ["mountPath"] = "/home/user/.local/share/buildkit" },
            },
        };
        if (options.Requests.Count > 0 || options.Limits.Count > 0)
        {
            var resources = new JsonObject();
            if (options.Requests.Count > 0)
            {
                resources["requests"] = StringMap(options.Requests);
            }
            if (options.Limits.Count > 0)
            {
                resources["limits"] = StringMap(options.Limits);
            }
            container["resources"] = resources;
        }
        if (options.Rootless)
        {
            container["securityContext"] = new JsonObject
            {
                ["runAsUser"] = 1000,
                ["runAsGroup"] = 1000,
                ["seccompProfile"] = new JsonObject { ["type"] = "Unconfined" },
                ["appArmorProfile"] = new JsonObject { ["type"] = "Unconfined" },
            };
        }

        var podSpec = new JsonObject
        {
            ["restartPolicy"] = "Never",
            ["nodeSelector"] = StringMap(NodeSelector(job.Platform, options)),
            ["containers"] = new JsonArray { container },
            ["volumes"] = new JsonArray
            {
                new JsonObject { ["name"] = "workspace", ["configMap"] = new JsonObject { ["name"] = names.ConfigMap, ["items"] = WorkspaceItems(job) } },
                new JsonObject
                {
                    ["name"] = "docker-config",
                    ["secret"] = new JsonObject
                    {
                        ["secretName"] = names.Secret,
                        ["items"] = new JsonArray { new JsonObject { ["key"] = ".dockerconfigjson", ["path"] = "config.json" } },
                    },
                },
                new JsonObject { ["name"] = "buildkit-state", ["emptyDir"] = new JsonObject() },
            },
        };
        if (options.ServiceAccountName is { Length: > 0 } serviceAccount)
        {
            podSpec["serviceAccountName"] = serviceAccount;
        }
        else
        {
            // The build needs no access to the API: do not hand it the default account's token.
            podSpec["automountServiceAccountToken"] = false;
        }

        var podMetadata = new JsonObject { ["labels"] = Labels(names, job, options) };
        if (options.Rootless)
        {
            // The pre-1.30 way to lift AppArmor, which BuildKit's rootless examples still use; newer servers accept both.
            podMetadata["annotations"] = new JsonObject { [$"container.apparmor.security.beta.kubernetes.io/{KubernetesBuildNames.ContainerName}"] = "unconfined" };
        }

        return new JsonObject
        {
            ["apiVersion"] = "batch/v1",
            ["kind"] = "Job",
            ["metadata"] = Metadata(names.Job, @namespace, names, job, options),
            ["spec"] = new JsonObject
            {
                ["backoffLimit"] = 0,
                ["activeDeadlineSeconds"] = (long)Math.Ceiling(Math.Max(1, job.Timeout.TotalSeconds)),
                ["ttlSecondsAfterFinished"] = options.TtlSecondsAfterFinished,
                ["template"] = new JsonObject { ["metadata"] = podMetadata, ["spec"] = podSpec },
            },
        };
    }

    /// <summary>The builder's arguments with the placeholders filled; the cache arguments only when there is a cache.</summary>
    public static IReadOnlyList<string> Arguments(BuildJob job, KubernetesBuildOptions options)
    {
        var template = string.IsNullOrEmpty(job.CacheRepository) ? options.EffectiveArgs : [.. options.EffectiveArgs, .. options.EffectiveCacheArgs];
        return [.. template.Select(argument => argument
            .Replace("{target}", job.TargetImage, StringComparison.Ordinal)
            .Replace("{platform}", job.Platform, StringComparison.Ordinal)
            .Replace("{cache}", job.CacheRepository ?? "", StringComparison.Ordinal)
            .Replace("{workspace}", options.WorkspacePath, StringComparison.Ordinal)
            .Replace("{buildId}", job.BuildId, StringComparison.Ordinal))];
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

    private static JsonArray Env(KubernetesBuildOptions options)
    {
        var env = new JsonArray { new JsonObject { ["name"] = "DOCKER_CONFIG", ["value"] = options.DockerConfigPath } };
        if (options.Rootless)
        {
            env.Add(new JsonObject { ["name"] = "BUILDKITD_FLAGS", ["value"] = "--oci-worker-no-process-sandbox" });
        }
        return env;
    }

    private static JsonArray WorkspaceItems(BuildJob job)
    {
        var items = new JsonArray { new JsonObject { ["key"] = "Dockerfile", ["path"] = "Dockerfile" } };
        foreach (var (key, (path, _)) in ContextEntries(job))
        {
            items.Add(new JsonObject { ["key"] = key, ["path"] = path });
        }
        foreach (var (key, (path, _)) in BinaryEntries(job))
        {
            items.Add(new JsonObject { ["key"] = key, ["path"] = path });
        }
        return items;
    }

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

    private static JsonObject Metadata(string name, string @namespace, KubernetesBuildNames names, BuildJob job, KubernetesBuildOptions options) => new()
    {
        ["name"] = name,
        ["namespace"] = @namespace,
        ["labels"] = Labels(names, job, options),
    };

    private static JsonObject Labels(KubernetesBuildNames names, BuildJob job, KubernetesBuildOptions options)
    {
        var labels = StringMap(options.Labels);
        labels["app.kubernetes.io/managed-by"] = "wave";
        labels[KubernetesBuildNames.BuildIdLabelKey] = names.BuildIdLabel;
        if (LabelValue().IsMatch(job.ContainerId))
        {
            labels["wave.seqera.io/container-id"] = job.ContainerId;
        }
        return labels;
    }

    private static string DockerConfigKey(string registry) =>
        registry is "docker.io" or "index.docker.io" or "registry-1.docker.io" ? DockerHubConfigKey : registry;

    private static JsonArray Strings(IEnumerable<string> values) => [.. values.Select(v => (JsonNode)v)];

    private static JsonObject StringMap(IEnumerable<KeyValuePair<string, string>> values)
    {
        var map = new JsonObject();
        foreach (var (key, value) in values)
        {
            map[key] = value;
        }
        return map;
    }

    [GeneratedRegex("^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")]
    private static partial Regex LabelValue();
}

/// <summary>The build's recipe cannot be shipped to the cluster (a bad path, too large for a ConfigMap).</summary>
public sealed class BuildContextException(string message) : Exception(message);
