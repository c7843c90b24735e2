using System.Security.Cryptography;

using Wave.AppHost.Model;

using YamlDotNet.Serialization;

namespace Wave.AppHost.Publishing;

/// <summary>
/// The model as Kubernetes objects for <c>kubectl apply -k</c>: a Deployment and Service per project, a StatefulSet
/// (with a volume claim) and headless Service per backing service, connection strings in a ConfigMap with the
/// passwords in a generated Secret, and the builder's ServiceAccount with a Role limited to the build namespace.
/// </summary>
public static class KubernetesPublisher
{
    public const string Namespace = "wave";
    public const string BuildNamespace = "wave-build";
    public const string ConnectionStringsConfigMap = "wave-connection-strings";
    public const string PasswordsSecret = "wave-passwords";
    public const string PasswordsFile = "passwords.env";
    public const string BuilderServiceAccount = "wave-builder";
    public const int HttpPort = 8080;

    private static readonly ISerializer Yaml = new SerializerBuilder()
        .WithQuotingNecessaryStrings()
        .DisableAliases()
        .Build();

    /// <summary>
    /// Writes one file per object and the kustomization. <c>passwords.env</c> is created with random passwords only
    /// when it is missing: it is a secret, kept out of version control, and rewriting it would lock the data out.
    /// </summary>
    public static void Write(ApplicationModel model, string outputDirectory)
    {
        Directory.CreateDirectory(outputDirectory);
        var files = new List<string>();
        foreach (var (file, objects) in Render(model))
        {
            File.WriteAllText(Path.Combine(outputDirectory, file), string.Join("---\n", objects.Select(o => Yaml.Serialize(o))));
            files.Add(file);
        }
        var passwords = Path.Combine(outputDirectory, PasswordsFile);
        if (!File.Exists(passwords))
        {
            File.WriteAllLines(passwords, model.BackingResources.Where(b => b.PasswordParameter is not null)
                .Select(b => $"{b.PasswordParameter}={RandomPassword()}"));
        }
        File.WriteAllText(Path.Combine(outputDirectory, ".gitignore"), PasswordsFile + "\n");
        File.WriteAllText(Path.Combine(outputDirectory, "kustomization.yaml"), Yaml.Serialize(Kustomization(files)));
    }

    /// <summary>The object files, in the order kubectl should apply them.</summary>
    public static IReadOnlyList<(string File, IReadOnlyList<object> Objects)> Render(ApplicationModel model)
    {
        var result = new List<(string, IReadOnlyList<object>)>
        {
            ("namespaces.yaml", [NamespaceObject(Namespace), NamespaceObject(BuildNamespace)]),
            ("connection-strings.yaml", [ConnectionStringsObject(model)]),
        };
        foreach (var backing in model.BackingResources)
        {
            result.Add(($"{backing.Name}.yaml", [StatefulSet(backing), HeadlessService(backing.Name, backing.TargetPort)]));
        }
        result.Add(("builder-rbac.yaml", BuilderRbac()));
        foreach (var project in model.Projects)
        {
            result.Add(($"{project.Name}.yaml", [Deployment(project), Service(project.Name)]));
        }
        return result;
    }

    private static Dictionary<string, object> Kustomization(IEnumerable<string> files) => new()
    {
        ["apiVersion"] = "kustomize.config.k8s.io/v1beta1",
        ["kind"] = "Kustomization",
        ["resources"] = files.ToList(),
        ["secretGenerator"] = new List<object>
        {
            new Dictionary<string, object>
            {
                ["name"] = PasswordsSecret,
                ["namespace"] = Namespace,
                ["envs"] = new List<string> { PasswordsFile },
            },
        },
        ["images"] = new List<object>
        {
            Image("wave-api"), Image("wave-registry-proxy"), Image("wave-builder"),
        },
    };

    private static Dictionary<string, object> Image(string name) => new() { ["name"] = name, ["newTag"] = "latest" };

    private static Dictionary<string, object> Metadata(string name, string? ns = Namespace)
    {
        var metadata = new Dictionary<string, object> { ["name"] = name };
        if (ns is not null)
        {
            metadata["namespace"] = ns;
        }
        metadata["labels"] = new Dictionary<string, object> { ["app.kubernetes.io/name"] = name, ["app.kubernetes.io/part-of"] = "wave" };
        return metadata;
    }

    private static Dictionary<string, object> Selector(string name) => new() { ["app.kubernetes.io/name"] = name };

    private static Dictionary<string, object> NamespaceObject(string name) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Namespace",
        ["metadata"] = Metadata(name, ns: null),
    };

    /// <summary>Connection strings without their passwords; a pod puts the password in through <c>$(VAR)</c> expansion.</summary>
    private static Dictionary<string, object> ConnectionStringsObject(ApplicationModel model) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "ConfigMap",
        ["metadata"] = Metadata(ConnectionStringsConfigMap),
        ["data"] = model.BackingResources.ToDictionary(b => b.Name, b => (object)ConnectionStrings.ForServer(b, b.Name, b.TargetPort,
            b.PasswordParameter is null ? null : $"$({PasswordVariable(b)})")),
    };

    private static string PasswordVariable(BackingResource resource) => resource.Name.ToUpperInvariant().Replace('-', '_') + "_PASSWORD";

    private static Dictionary<string, object> SecretValue(string key) => new()
    {
        ["secretKeyRef"] = new Dictionary<string, object> { ["name"] = PasswordsSecret, ["key"] = key },
    };

    private static Dictionary<string, object> StatefulSet(BackingResource resource)
    {
        var env = ContainerSpec.Environment(resource, password => $"$({PasswordVariable(resource)})").ToList();
        if (resource.Kind == BackingKind.Postgres)
        {
            // A volume's root holds lost+found, which initdb refuses: the cluster lives one folder down.
            env.Add(new("PGDATA", resource.DataPath + "/pgdata"));
        }
        var containerEnv = new List<object>();
        if (resource.PasswordParameter is { } parameter)
        {
            containerEnv.Add(new Dictionary<string, object> { ["name"] = PasswordVariable(resource), ["valueFrom"] = SecretValue(parameter) });
        }
        containerEnv.AddRange(env.Select(e => new Dictionary<string, object> { ["name"] = e.Key, ["value"] = e.Value }));
        var container = new Dictionary<string, object>
        {
            ["name"] = resource.Name,
            ["image"] = resource.Image,
        };
        var args = ContainerSpec.Args(resource);
        if (args.Count > 0)
        {
            container["args"] = args.ToList();
        }
        if (containerEnv.Count > 0)
        {
            container["env"] = containerEnv;
        }
        container["ports"] = new List<object> { new Dictionary<string, object> { ["name"] = "tcp", ["containerPort"] = resource.TargetPort } };
        container["readinessProbe"] = new Dictionary<string, object>
        {
            ["tcpSocket"] = new Dictionary<string, object> { ["port"] = resource.TargetPort },
            ["periodSeconds"] = 5,
        };
        container["volumeMounts"] = new List<object> { new Dictionary<string, object> { ["name"] = "data", ["mountPath"] = resource.DataPath } };

        return new Dictionary<string, object>
        {
            ["apiVersion"] = "apps/v1",
            ["kind"] = "StatefulSet",
            ["metadata"] = Metadata(resource.Name),
            ["spec"] = new Dictionary<string, object>
            {
                ["serviceName"] = resource.Name,
                ["replicas"] = 1,
                ["selector"] = new Dictionary<string, object> { ["matchLabels"] = Selector(resource.Name) },
                ["template"] = new Dictionary<string, object>
                {
                    ["metadata"] = new Dictionary<string, object> { ["labels"] = Selector(resource.Name) },
                    ["spec"] = new Dictionary<string, object> { ["containers"] = new List<object> { container } },
                },
                ["volumeClaimTemplates"] = new List<object>
                {
                    new Dictionary<string, object>
                    {
                        ["metadata"] = new Dictionary<string, object> { ["name"] = "data" },
                        ["spec"] = new Dictionary<string, object>
                        {
                            ["accessModes"] = new List<string> { "ReadWriteOnce" },
                            ["resources"] = new Dictionary<string, object>
                            {
                                ["requests"] = new Dictionary<string, object> { ["storage"] = "1Gi" },
                            },
                        },
                    },
                },
            },
        };
    }

    private static Dictionary<string, object> HeadlessService(string name, int port) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Service",
        ["metadata"] = Metadata(name),
        ["spec"] = new Dictionary<string, object>
        {
            ["clusterIP"] = "None",
            ["selector"] = Selector(name),
            ["ports"] = new List<object> { new Dictionary<string, object> { ["name"] = "tcp", ["port"] = port, ["targetPort"] = port } },
        },
    };

    private static Dictionary<string, object> Service(string name) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Service",
        ["metadata"] = Metadata(name),
        ["spec"] = new Dictionary<string, object>
        {
            ["selector"] = Selector(name),
            ["ports"] = new List<object> { new Dictionary<string, object> { ["name"] = "http", ["port"] = HttpPort, ["targetPort"] = "http" } },
        },
    };

    private const string BlobCacheMountPath = "/var/cache/wave/blobs";

    private static Dictionary<string, object> Deployment(ProjectResource project)
    {
        var env = new List<object>();
        foreach (var backing in project.BackingReferences.Where(b => b.PasswordParameter is not null))
        {
            env.Add(new Dictionary<string, object> { ["name"] = PasswordVariable(backing), ["valueFrom"] = SecretValue(backing.PasswordParameter!) });
        }
        foreach (var reference in project.References)
        {
            env.Add(reference.Target switch
            {
                BackingResource backing => new Dictionary<string, object>
                {
                    ["name"] = ServiceEnvironment.ConnectionStringKey(reference.ConnectionName),
                    ["valueFrom"] = new Dictionary<string, object>
                    {
                        ["configMapKeyRef"] = new Dictionary<string, object> { ["name"] = ConnectionStringsConfigMap, ["key"] = backing.Name },
                    },
                },
                ProjectResource target => new Dictionary<string, object>
                {
                    ["name"] = ServiceEnvironment.ServiceKey(target.Name),
                    ["value"] = $"http://{target.Name}:{HttpPort}",
                },
                _ => throw new InvalidOperationException($"unknown reference {reference}"),
            });
        }
        env.AddRange(ServiceEnvironment.Telemetry(project).Select(e => new Dictionary<string, object> { ["name"] = e.Key, ["value"] = e.Value }));
        env.Add(new Dictionary<string, object> { ["name"] = "ASPNETCORE_HTTP_PORTS", ["value"] = HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        if (project.Name == "builder")
        {
            // In the cluster the builder runs each build as a Job in the build namespace, with its own service account.
            env.Add(new Dictionary<string, object> { ["name"] = "Wave__Build__Backend", ["value"] = "kubernetes" });
            env.Add(new Dictionary<string, object> { ["name"] = "Wave__Build__Kubernetes__Connection", ["value"] = "in-cluster" });
            env.Add(new Dictionary<string, object> { ["name"] = "Wave__Build__Kubernetes__Namespace", ["value"] = BuildNamespace });
        }
        if (project.Name == "registry-proxy")
        {
            // Verified upstream layers on the pod's own disk, a little under the volume's limit (which evicts the pod).
            env.Add(new Dictionary<string, object> { ["name"] = "Wave__Proxy__BlobCache__Directory", ["value"] = BlobCacheMountPath });
            env.Add(new Dictionary<string, object> { ["name"] = "Wave__Proxy__BlobCache__MaxBytes", ["value"] = (9L * 1024 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }

        // A connection string read from the ConfigMap holds $(X_PASSWORD): Kubernetes expands it only in `value`, so
        // the connection strings that need a password are spelled out with the variable defined above them.
        var expanded = env.Cast<Dictionary<string, object>>().Select(e => Expand(e, project)).ToList<object>();

        var podSpec = new Dictionary<string, object>();
        if (project.Name == "builder")
        {
            podSpec["serviceAccountName"] = BuilderServiceAccount;
        }
        var container = new Dictionary<string, object>
        {
            ["name"] = project.Name,
            ["image"] = ContainerImage(project),
            ["env"] = expanded,
            ["ports"] = new List<object> { new Dictionary<string, object> { ["name"] = "http", ["containerPort"] = HttpPort } },
            ["readinessProbe"] = HttpProbe("/health"),
            ["livenessProbe"] = HttpProbe("/alive"),
        };
        if (project.Name == "registry-proxy")
        {
            container["volumeMounts"] = new List<object> { new Dictionary<string, object> { ["name"] = "blob-cache", ["mountPath"] = BlobCacheMountPath } };
            podSpec["volumes"] = new List<object>
            {
                new Dictionary<string, object>
                {
                    ["name"] = "blob-cache",
                    ["emptyDir"] = new Dictionary<string, object> { ["sizeLimit"] = "10Gi" },
                },
            };
        }
        podSpec["containers"] = new List<object> { container };
        return new Dictionary<string, object>
        {
            ["apiVersion"] = "apps/v1",
            ["kind"] = "Deployment",
            ["metadata"] = Metadata(project.Name),
            ["spec"] = new Dictionary<string, object>
            {
                ["replicas"] = 1,
                ["selector"] = new Dictionary<string, object> { ["matchLabels"] = Selector(project.Name) },
                ["template"] = new Dictionary<string, object>
                {
                    ["metadata"] = new Dictionary<string, object> { ["labels"] = Selector(project.Name) },
                    ["spec"] = podSpec,
                },
            },
        };
    }

    private static Dictionary<string, object> Expand(Dictionary<string, object> variable, ProjectResource project)
    {
        if (!variable.TryGetValue("valueFrom", out var from) || from is not Dictionary<string, object> source
            || !source.TryGetValue("configMapKeyRef", out var reference))
        {
            return variable;
        }
        var key = (string)((Dictionary<string, object>)reference)["key"];
        var backing = project.BackingReferences.Single(b => b.Name == key);
        if (backing.PasswordParameter is null)
        {
            return variable;
        }
        return new Dictionary<string, object>
        {
            ["name"] = variable["name"],
            ["value"] = ConnectionStrings.ForServer(backing, backing.Name, backing.TargetPort, $"$({PasswordVariable(backing)})"),
        };
    }

    /// <summary>The repository `dotnet publish /t:PublishContainer -p:ContainerRepository=…` gives the project's image.</summary>
    public static string ContainerImage(ProjectResource project) => "wave-" + project.Name;

    private static Dictionary<string, object> HttpProbe(string path) => new()
    {
        ["httpGet"] = new Dictionary<string, object> { ["path"] = path, ["port"] = "http" },
        ["periodSeconds"] = 10,
    };

    private static List<object> BuilderRbac() =>
    [
        new Dictionary<string, object>
        {
            ["apiVersion"] = "v1",
            ["kind"] = "ServiceAccount",
            ["metadata"] = Metadata(BuilderServiceAccount),
        },
        new Dictionary<string, object>
        {
            ["apiVersion"] = "rbac.authorization.k8s.io/v1",
            ["kind"] = "Role",
            ["metadata"] = Metadata(BuilderServiceAccount, BuildNamespace),
            ["rules"] = new List<object>
            {
                Rule("batch", ["jobs"], ["create", "get", "list", "watch", "delete"]),
                Rule("", ["pods"], ["get", "list", "watch"]),
                Rule("", ["pods/log"], ["get"]),
                // A restarted builder replaces (updates) the Secret and ConfigMap a dead one left.
                Rule("", ["secrets", "configmaps"], ["create", "get", "update", "delete"]),
            },
        },
        new Dictionary<string, object>
        {
            ["apiVersion"] = "rbac.authorization.k8s.io/v1",
            ["kind"] = "RoleBinding",
            ["metadata"] = Metadata(BuilderServiceAccount, BuildNamespace),
            ["roleRef"] = new Dictionary<string, object>
            {
                ["apiGroup"] = "rbac.authorization.k8s.io",
                ["kind"] = "Role",
                ["name"] = BuilderServiceAccount,
            },
            ["subjects"] = new List<object>
            {
                new Dictionary<string, object>
                {
                    ["kind"] = "ServiceAccount",
                    ["name"] = BuilderServiceAccount,
                    ["namespace"] = Namespace,
                },
            },
        },
    ];

    private static Dictionary<string, object> Rule(string apiGroup, List<string> resources, List<string> verbs) => new()
    {
        ["apiGroups"] = new List<string> { apiGroup },
        ["resources"] = resources,
        ["verbs"] = verbs,
    };

    private static string RandomPassword() =>
        RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 24);
}
