namespace Wave.Builder.Kubernetes;

/// <summary>A namespaced resource type and where its REST collection lives.</summary>
public sealed record KubernetesResource(string GroupVersion, string Plural, string Kind)
{
    public static KubernetesResource Secrets { get; } = new("v1", "secrets", "Secret");
    public static KubernetesResource ConfigMaps { get; } = new("v1", "configmaps", "ConfigMap");
    public static KubernetesResource Pods { get; } = new("v1", "pods", "Pod");
    public static KubernetesResource Jobs { get; } = new("batch/v1", "jobs", "Job");

    /// <summary>The core group lives under <c>/api/v1</c>, named groups under <c>/apis/GROUP/VERSION</c>.</summary>
    public string CollectionPath(string @namespace) =>
        $"{(GroupVersion.Contains('/') ? "/apis/" : "/api/")}{GroupVersion}/namespaces/{Uri.EscapeDataString(@namespace)}/{Plural}";

    public string ItemPath(string @namespace, string name) => $"{CollectionPath(@namespace)}/{Uri.EscapeDataString(name)}";
}

/// <summary>One event of a watch stream: <c>ADDED</c>, <c>MODIFIED</c>, <c>DELETED</c>, <c>BOOKMARK</c> or <c>ERROR</c> (then the object is a Status).</summary>
public sealed record WatchEvent(string Type, System.Text.Json.Nodes.JsonObject Object);
