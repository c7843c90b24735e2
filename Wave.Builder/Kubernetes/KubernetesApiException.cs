using System.Net;
using System.Text.Json;

using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Wave.Builder.Kubernetes;

/// <summary>
/// The API server refused a request of a build. KubernetesClient reports it as an <see cref="HttpOperationException"/>
/// whose message is only the status code and whose <c>Request</c> holds the request body (for a Secret: the
/// credentials). This says what was asked (verb, resource, namespace, name) and what the server's Status object
/// answered, and keeps nothing of the request.
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

    /// <summary>The refusal <paramref name="error"/> reports, described as the request <paramref name="verb"/> on the object.</summary>
    public static KubernetesApiException From(HttpOperationException error, string verb, string resource, string @namespace, string? name = null)
    {
        var body = error.Response?.Content ?? "";
        V1Status? status = null;
        try
        {
            status = body.StartsWith('{') ? KubernetesJson.Deserialize<V1Status>(body) : null;
        }
        catch (JsonException)
        {
            // Not a Status object (a proxy in front of the API server, say): the text is the message.
        }
        var code = status?.Code is { } c ? (HttpStatusCode)c : error.Response?.StatusCode ?? HttpStatusCode.InternalServerError;
        var message = status?.Message ?? (body.Length <= 500 ? body : body[..500] + "…");
        return new KubernetesApiException(code, status?.Reason, message, verb, resource, @namespace, name);
    }

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
