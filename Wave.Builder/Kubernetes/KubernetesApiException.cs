using System.Net;

namespace Wave.Builder.Kubernetes;

/// <summary>
/// The API server refused a request. <see cref="Reason"/> and the server's message come from the Status object it
/// answered with (e.g. <c>Forbidden</c>, <c>AlreadyExists</c>, <c>NotFound</c>, <c>Expired</c>).
/// </summary>
public sealed class KubernetesApiException : Exception
{
    public KubernetesApiException(HttpStatusCode statusCode, string? reason, string serverMessage, string verb, string resource, string @namespace, string? name = null)
        : base(Describe(statusCode, reason, serverMessage, verb, resource, @namespace, name))
    {
        StatusCode = statusCode;
        Reason = reason;
        ServerMessage = serverMessage;
        Resource = resource;
        Namespace = @namespace;
        Name = name;
    }

    public HttpStatusCode StatusCode { get; }

    /// <summary>The Status object's <c>reason</c>, e.g. <c>AlreadyExists</c>; null when the server sent no Status.</summary>
    public string? Reason { get; }

    public string ServerMessage { get; }
    public string Resource { get; }
    public string Namespace { get; }
    public string? Name { get; }

    public bool IsAlreadyExists => StatusCode == HttpStatusCode.Conflict && (Reason is null or "AlreadyExists");
    public bool IsNotFound => StatusCode == HttpStatusCode.NotFound;
    public bool IsGone => StatusCode == HttpStatusCode.Gone;

    private static string Describe(HttpStatusCode statusCode, string? reason, string serverMessage, string verb, string resource, string @namespace, string? name)
    {
        var target = name is null ? resource : $"{resource}/{name}";
        var hint = statusCode switch
        {
            HttpStatusCode.Forbidden => " (the builder's service account needs RBAC permission for this in the namespace)",
            HttpStatusCode.Unauthorized => " (the credentials were not accepted)",
            _ => "",
        };
        return $"Kubernetes API refused to {verb} {target} in namespace '{@namespace}': {(int)statusCode} {reason ?? statusCode.ToString()}: {serverMessage}{hint}";
    }
}
