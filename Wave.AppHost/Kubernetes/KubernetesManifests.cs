using k8s;
using k8s.Models;

namespace Wave.AppHost.Kubernetes;

/// <summary>
/// Kubernetes objects for the application model the AppHost built (Aspire's <see cref="DistributedApplicationModel"/>:
/// its resources, endpoints, volumes, environment and arguments, as Aspire evaluates them for publishing). Aspire's own
/// Kubernetes publisher (Aspire.Hosting.Kubernetes) is not served by the package registry here, so this class reads
/// the model itself: a Deployment and Service per project, a StatefulSet with volume claims and a headless Service per
/// container, the connection strings in a ConfigMap, secret parameters from a Secret kustomize generates, and the
/// service accounts and Roles the model's annotations ask for.
/// </summary>
internal static class KubernetesManifests
{
    /// <summary>One file of the output: its name and the objects in it, in the order kubectl should apply them.</summary>
    public sealed record ManifestFile(string Name, IReadOnlyList<IKubernetesObject> Objects);

    public sealed record Output(IReadOnlyList<ManifestFile> Files, IReadOnlyList<ParameterResource> Secrets, IReadOnlyList<string> Images);

    public static async Task<Output> RenderAsync(DistributedApplicationModel model, DistributedApplicationExecutionContext executionContext, CancellationToken cancellationToken)
    {
        var secrets = new HashSet<ParameterResource>();
        var files = new List<ManifestFile>();
        var containers = model.Resources.OfType<ContainerResource>().Where(Published).ToList();
        var projects = model.Resources.OfType<ProjectResource>().Where(Published).ToList();
        var accounts = projects.SelectMany(p => p.Annotations.OfType<KubernetesServiceAccountAnnotation>().Select(a => (Project: p, Account: a))).ToList();

        files.Add(new("namespaces.yaml",
            [.. new[] { KubernetesNames.Namespace }.Concat(accounts.Select(a => a.Account.RoleNamespace)).Distinct(StringComparer.Ordinal).Select(Namespace)]));

        var connectionStrings = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var resource in model.Resources.OfType<IResourceWithConnectionString>().Where(Published))
        {
            if (KubernetesValues.Render(resource.ConnectionStringExpression, secrets) is { } connectionString)
            {
                connectionStrings[resource.Name] = connectionString;
            }
        }
        files.Add(new("connection-strings.yaml",
        [
            new V1ConfigMap
            {
                ApiVersion = ApiVersion(V1ConfigMap.KubeGroup, V1ConfigMap.KubeApiVersion),
                Kind = V1ConfigMap.KubeKind,
                Metadata = Metadata(KubernetesNames.ConnectionStringsConfigMap),
                Data = connectionStrings,
            },
        ]));

        foreach (var container in containers)
        {
            var (statefulSet, service) = await ContainerObjectsAsync(container, executionContext, secrets, cancellationToken);
            files.Add(new($"{container.Name}.yaml", [statefulSet, service]));
        }
        foreach (var (project, account) in accounts)
        {
            files.Add(new($"{project.Name}-rbac.yaml", ServiceAccountObjects(account)));
        }
        foreach (var project in projects)
        {
            files.Add(new($"{project.Name}.yaml", [await DeploymentAsync(project, executionContext, secrets, cancellationToken), ProjectService(project.Name)]));
        }
        return new Output(files, [.. secrets.OrderBy(s => s.Name, StringComparer.Ordinal)], [.. projects.Select(ProjectImage)]);
    }

    /// <summary>The repository <c>dotnet publish /t:PublishContainer -p:ContainerRepository=…</c> gives the project's image.</summary>
    public static string ProjectImage(ProjectResource project) => "wave-" + project.Name;

    private static bool Published(IResource resource) => !resource.Annotations.OfType<ManifestPublishingCallbackAnnotation>().Any(a => a.Callback is null);

    /// <summary>The core group ("") is written as the version alone (<c>v1</c>), the others as <c>group/version</c>.</summary>
    private static string ApiVersion(string group, string version) => string.IsNullOrEmpty(group) ? version : $"{group}/{version}";

    private static V1ObjectMeta Metadata(string name, string? ns = KubernetesNames.Namespace) => new()
    {
        Name = name,
        NamespaceProperty = ns,
        Labels = new Dictionary<string, string> { ["app.kubernetes.io/name"] = name, ["app.kubernetes.io/part-of"] = "wave" },
    };

    private static Dictionary<string, string> Selector(string name) => new() { ["app.kubernetes.io/name"] = name };

    private static V1Namespace Namespace(string name) => new() { ApiVersion = ApiVersion(V1Namespace.KubeGroup, V1Namespace.KubeApiVersion), Kind = V1Namespace.KubeKind, Metadata = Metadata(name, ns: null) };

    /// <summary>The resource's environment and arguments as Aspire evaluates them for publishing, before it renders them for its manifest.</summary>
    private static async Task<(List<KeyValuePair<string, object>> Environment, List<object> Arguments)> ConfigurationAsync(IResource resource,
        DistributedApplicationExecutionContext executionContext, CancellationToken cancellationToken)
    {
        var configuration = await ExecutionConfigurationBuilder.Create(resource)
            .WithEnvironmentVariablesConfig()
            .WithArgumentsConfig()
            .BuildAsync(executionContext, null, cancellationToken);
        if (configuration.Exception is not null)
        {
            throw new InvalidOperationException($"the environment or arguments of '{resource.Name}' could not be evaluated", configuration.Exception);
        }
        return ([.. configuration.EnvironmentVariablesWithUnprocessed.Select(e => KeyValuePair.Create(e.Key, e.Value.Unprocessed))],
            [.. configuration.ArgumentsWithUnprocessed.Select(a => a.Unprocessed)]);
    }

    /// <summary>
    /// A container's environment: first one variable per secret parameter it uses (from the Secret), so that the values
    /// after them can use <c>$(NAME)</c> (Kubernetes expands only variables defined earlier, and only in <c>value</c>).
    /// A variable that is exactly one secret parameter is taken from the Secret directly.
    /// </summary>
    private static List<V1EnvVar> Environment(IEnumerable<KeyValuePair<string, object>> variables, ISet<ParameterResource> modelSecrets)
    {
        var used = new HashSet<ParameterResource>();
        var rendered = new List<(string Name, object Value, string? Text)>();
        foreach (var (name, original) in variables)
        {
            var value = Unwrap(original);
            var text = value is ParameterResource { Secret: true } direct ? null : KubernetesValues.Render(value, used);
            if (value is ParameterResource { Secret: true } || text is not null)
            {
                rendered.Add((name, value, text));
            }
        }
        modelSecrets.UnionWith(used);
        foreach (var (_, value, _) in rendered)
        {
            if (value is ParameterResource { Secret: true } direct)
            {
                modelSecrets.Add(direct);
            }
        }

        var env = new List<V1EnvVar>();
        foreach (var secret in used.OrderBy(s => s.Name, StringComparer.Ordinal))
        {
            env.Add(new V1EnvVar { Name = KubernetesValues.SecretVariable(secret), ValueFrom = FromSecret(secret) });
        }
        foreach (var (name, value, text) in rendered)
        {
            var defined = env.FirstOrDefault(e => e.Name == name);
            if (value is ParameterResource { Secret: true } secret)
            {
                if (defined is null)
                {
                    env.Add(new V1EnvVar { Name = name, ValueFrom = FromSecret(secret) });
                }
                else if (defined.ValueFrom?.SecretKeyRef?.Key != secret.Name)
                {
                    throw new InvalidOperationException($"{name} is both the secret {defined.ValueFrom?.SecretKeyRef?.Key} and {secret.Name}");
                }
                continue;
            }
            if (defined is not null)
            {
                throw new InvalidOperationException($"the environment variable {name} would hide the secret variable of the same name");
            }
            env.Add(new V1EnvVar { Name = name, Value = text });
        }
        return env;
    }

    /// <summary>An expression that is just one value (<c>"{0}"</c>, no format) is that value: Aspire wraps parameters so.</summary>
    private static object Unwrap(object value) =>
        value is ReferenceExpression { IsConditional: false, Format: "{0}", ValueProviders: [var only] } expression && string.IsNullOrEmpty(expression.StringFormats[0])
            ? Unwrap(only)
            : value;

    private static V1EnvVarSource FromSecret(ParameterResource secret) =>
        new() { SecretKeyRef = new V1SecretKeySelector { Name = KubernetesNames.PasswordsSecret, Key = secret.Name } };

    private static async Task<(V1StatefulSet, V1Service)> ContainerObjectsAsync(ContainerResource resource,
        DistributedApplicationExecutionContext executionContext, ISet<ParameterResource> secrets, CancellationToken cancellationToken)
    {
        var (environment, arguments) = await ConfigurationAsync(resource, executionContext, cancellationToken);
        if (!resource.TryGetContainerImageName(out var image))
        {
            throw new InvalidOperationException($"container '{resource.Name}' has no image");
        }
        var endpoints = resource.Annotations.OfType<EndpointAnnotation>().ToList();
        var ports = endpoints.Select(e => new V1ContainerPort
        {
            Name = e.Name,
            ContainerPort = e.TargetPort ?? throw new InvalidOperationException($"endpoint {resource.Name}/{e.Name} has no target port"),
        }).ToList();
        var volumes = resource.Annotations.OfType<ContainerMountAnnotation>().Where(m => m.Type == ContainerMountType.Volume).ToList();
        var container = new V1Container
        {
            Name = resource.Name,
            Image = image,
            Command = resource.Entrypoint is { } entrypoint ? [entrypoint] : null,
            Args = arguments.Count == 0 ? null : [.. arguments.Select(a => KubernetesValues.Render(a, secrets) ?? "")],
            Env = environment.Count == 0 ? null : Environment(environment, secrets),
            Ports = ports,
            ReadinessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = ports[0].ContainerPort }, PeriodSeconds = 5 },
            VolumeMounts = [.. volumes.Select(v => new V1VolumeMount { Name = VolumeName(v), MountPath = v.Target, ReadOnlyProperty = v.IsReadOnly ? true : null })],
        };
        var statefulSet = new V1StatefulSet
        {
            ApiVersion = ApiVersion(V1StatefulSet.KubeGroup, V1StatefulSet.KubeApiVersion),
            Kind = V1StatefulSet.KubeKind,
            Metadata = Metadata(resource.Name),
            Spec = new V1StatefulSetSpec
            {
                ServiceName = resource.Name,
                Replicas = 1,
                Selector = new V1LabelSelector { MatchLabels = Selector(resource.Name) },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = Selector(resource.Name) },
                    Spec = new V1PodSpec { Containers = [container] },
                },
                VolumeClaimTemplates = [.. volumes.Select(v => new V1PersistentVolumeClaim
                {
                    Metadata = new V1ObjectMeta { Name = VolumeName(v) },
                    Spec = new V1PersistentVolumeClaimSpec
                    {
                        AccessModes = ["ReadWriteOnce"],
                        Resources = new V1VolumeResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["storage"] = new("1Gi") } },
                    },
                })],
            },
        };
        var service = new V1Service
        {
            ApiVersion = ApiVersion(V1Service.KubeGroup, V1Service.KubeApiVersion),
            Kind = V1Service.KubeKind,
            Metadata = Metadata(resource.Name),
            Spec = new V1ServiceSpec
            {
                ClusterIP = "None",
                Selector = Selector(resource.Name),
                Ports = [.. ports.Select(p => new V1ServicePort { Name = p.Name, Port = p.ContainerPort, TargetPort = p.ContainerPort })],
            },
        };
        return (statefulSet, service);
    }

    /// <summary>A volume claim's name: the model's volume name, which must already be a DNS label (the AppHost names its volumes).</summary>
    private static string VolumeName(ContainerMountAnnotation volume) =>
        volume.Source is { Length: > 0 and <= 63 } source && source.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')
            ? source
            : throw new InvalidOperationException($"volume '{volume.Source}' is not a valid Kubernetes name: name it in the model (WithDataVolume(\"wave-…\"))");

    private static async Task<V1Deployment> DeploymentAsync(ProjectResource project, DistributedApplicationExecutionContext executionContext,
        ISet<ParameterResource> secrets, CancellationToken cancellationToken)
    {
        var (environment, _) = await ConfigurationAsync(project, executionContext, cancellationToken);
        environment.AddRange(project.Annotations.OfType<KubernetesEnvironmentAnnotation>().Select(e => KeyValuePair.Create(e.Name, (object)e.Value)));
        var scratch = project.Annotations.OfType<KubernetesScratchVolumeAnnotation>().ToList();
        var container = new V1Container
        {
            Name = project.Name,
            Image = ProjectImage(project),
            Env = Environment(environment, secrets),
            Ports = [new V1ContainerPort { Name = "http", ContainerPort = KubernetesValues.ProjectHttpPort }],
            ReadinessProbe = HttpProbe("/health"),
            LivenessProbe = HttpProbe("/alive"),
            VolumeMounts = scratch.Count == 0 ? null : [.. scratch.Select(v => new V1VolumeMount { Name = v.Name, MountPath = v.MountPath })],
        };
        return new V1Deployment
        {
            ApiVersion = ApiVersion(V1Deployment.KubeGroup, V1Deployment.KubeApiVersion),
            Kind = V1Deployment.KubeKind,
            Metadata = Metadata(project.Name),
            Spec = new V1DeploymentSpec
            {
                Replicas = 1,
                Selector = new V1LabelSelector { MatchLabels = Selector(project.Name) },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = Selector(project.Name) },
                    Spec = new V1PodSpec
                    {
                        ServiceAccountName = project.Annotations.OfType<KubernetesServiceAccountAnnotation>().SingleOrDefault()?.Name,
                        Containers = [container],
                        Volumes = scratch.Count == 0 ? null : [.. scratch.Select(v => new V1Volume
                        {
                            Name = v.Name,
                            EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = new ResourceQuantity(v.SizeLimit) },
                        })],
                    },
                },
            },
        };
    }

    private static V1Probe HttpProbe(string path) => new() { HttpGet = new V1HTTPGetAction { Path = path, Port = "http" }, PeriodSeconds = 10 };

    private static V1Service ProjectService(string name) => new()
    {
        ApiVersion = ApiVersion(V1Service.KubeGroup, V1Service.KubeApiVersion),
        Kind = V1Service.KubeKind,
        Metadata = Metadata(name),
        Spec = new V1ServiceSpec
        {
            Selector = Selector(name),
            Ports = [new V1ServicePort { Name = "http", Port = KubernetesValues.ProjectHttpPort, TargetPort = "http" }],
        },
    };

    private static List<IKubernetesObject> ServiceAccountObjects(KubernetesServiceAccountAnnotation account) =>
    [
        new V1ServiceAccount { ApiVersion = ApiVersion(V1ServiceAccount.KubeGroup, V1ServiceAccount.KubeApiVersion), Kind = V1ServiceAccount.KubeKind, Metadata = Metadata(account.Name) },
        new V1Role
        {
            ApiVersion = ApiVersion(V1Role.KubeGroup, V1Role.KubeApiVersion),
            Kind = V1Role.KubeKind,
            Metadata = Metadata(account.Name, account.RoleNamespace),
            Rules = [.. account.Rules],
        },
        new V1RoleBinding
        {
            ApiVersion = ApiVersion(V1RoleBinding.KubeGroup, V1RoleBinding.KubeApiVersion),
            Kind = V1RoleBinding.KubeKind,
            Metadata = Metadata(account.Name, account.RoleNamespace),
            RoleRef = new V1RoleRef { ApiGroup = V1Role.KubeGroup, Kind = V1Role.KubeKind, Name = account.Name },
            Subjects = [new Rbacv1Subject { Kind = V1ServiceAccount.KubeKind, Name = account.Name, NamespaceProperty = KubernetesNames.Namespace }],
        },
    ];
}
