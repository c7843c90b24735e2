using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Wave.Builder.Kubernetes;

/// <summary>
/// A small client for the parts of the Kubernetes REST API a build needs: create, replace, get, list and delete of
/// namespaced objects as JSON, a watch of one object, and a pod's log. Objects stay <see cref="JsonObject"/>s: the
/// callers build manifests as JSON and read the few status fields they need.
/// </summary>
public sealed class KubernetesApiClient : IDisposable
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private readonly HttpClient _http;
    private readonly TimeSpan _requestTimeout;

    public KubernetesApiClient(KubernetesConnection connection, TimeSpan? requestTimeout = null)
        : this(connection, CreateHandler(connection), requestTimeout)
    {
    }

    internal KubernetesApiClient(KubernetesConnection connection, HttpMessageHandler handler, TimeSpan? requestTimeout = null)
    {
        Connection = connection;
        _requestTimeout = requestTimeout ?? TimeSpan.FromSeconds(30);
        // Watches and log streams stay open for the whole build, so the client itself has no timeout; every plain
        // request gets _requestTimeout instead.
        _http = new HttpClient(handler) { BaseAddress = connection.Server, Timeout = Timeout.InfiniteTimeSpan };
    }

    public KubernetesConnection Connection { get; }

    /// <summary>TLS as the connection says: its own roots (and only those), or no verification, plus a client certificate.</summary>
    public static SocketsHttpHandler CreateHandler(KubernetesConnection connection)
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), ConnectTimeout = TimeSpan.FromSeconds(15) };
        var roots = connection.TrustedRoots;
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
        {
            if (connection.InsecureSkipTlsVerify)
            {
                return true;
            }
            if (certificate is null)
            {
                return false;
            }
            var serverCertificate = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            var nameOk = connection.TlsServerName is { } expectedName
                ? serverCertificate.MatchesHostname(expectedName)
                : (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0;
            if (!nameOk)
            {
                return false;
            }
            if (roots.Count == 0)
            {
                return (errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None;
            }
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots.ToArray());
            return chain.Build(serverCertificate);
        };
        if (connection.Auth.ClientCertificate is { } clientCertificate)
        {
            handler.SslOptions.ClientCertificates = [clientCertificate];
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        }
        return handler;
    }

    public Task<JsonObject> CreateAsync(KubernetesResource resource, string @namespace, JsonObject body, CancellationToken cancellationToken) =>
        SendForObjectAsync(HttpMethod.Post, resource.CollectionPath(@namespace), body, "create", resource, @namespace, NameOf(body), cancellationToken);

    /// <summary>A PUT of the whole object; without a resourceVersion in the body it is an unconditional replace.</summary>
    public Task<JsonObject> ReplaceAsync(KubernetesResource resource, string @namespace, JsonObject body, CancellationToken cancellationToken)
    {
        var name = NameOf(body) ?? throw new ArgumentException("A replaced object needs metadata.name.", nameof(body));
        return SendForObjectAsync(HttpMethod.Put, resource.ItemPath(@namespace, name), body, "replace", resource, @namespace, name, cancellationToken);
    }

    /// <summary>Creates the object, or replaces it when one of that name already exists (409 AlreadyExists).</summary>
    public async Task<JsonObject> CreateOrReplaceAsync(KubernetesResource resource, string @namespace, JsonObject body, CancellationToken cancellationToken)
    {
        try
        {
            return await CreateAsync(resource, @namespace, body, cancellationToken);
        }
        catch (KubernetesApiException e) when (e.IsAlreadyExists)
        {
            return await ReplaceAsync(resource, @namespace, body, cancellationToken);
        }
    }

    /// <summary>
    /// Creates the object, or answers the existing one when that name is taken (409 AlreadyExists) — for objects
    /// whose spec cannot change after creation, like a Job.
    /// </summary>
    public async Task<(JsonObject Object, bool Created)> CreateOrGetAsync(KubernetesResource resource, string @namespace, JsonObject body, CancellationToken cancellationToken)
    {
        try
        {
            return (await CreateAsync(resource, @namespace, body, cancellationToken), true);
        }
        catch (KubernetesApiException e) when (e.IsAlreadyExists)
        {
            var name = NameOf(body)!;
            var existing = await GetAsync(resource, @namespace, name, cancellationToken);
            // Deleted between the POST and the GET: create it after all.
            return existing is null ? (await CreateAsync(resource, @namespace, body, cancellationToken), true) : (existing, false);
        }
    }

    /// <summary>The object, or null when it does not exist.</summary>
    public async Task<JsonObject?> GetAsync(KubernetesResource resource, string @namespace, string name, CancellationToken cancellationToken)
    {
        try
        {
            return await SendForObjectAsync(HttpMethod.Get, resource.ItemPath(@namespace, name), null, "get", resource, @namespace, name, cancellationToken);
        }
        catch (KubernetesApiException e) when (e.IsNotFound)
        {
            return null;
        }
    }

    public async Task<IReadOnlyList<JsonObject>> ListAsync(KubernetesResource resource, string @namespace, string labelSelector, CancellationToken cancellationToken)
    {
        var list = await SendForObjectAsync(HttpMethod.Get, $"{resource.CollectionPath(@namespace)}?labelSelector={Uri.EscapeDataString(labelSelector)}", null, "list", resource, @namespace, null, cancellationToken);
        return list["items"] is JsonArray items ? [.. items.OfType<JsonObject>()] : [];
    }

    /// <summary>Deletes the object; false when it was already gone.</summary>
    /// <param name="propagationPolicy"><c>Background</c> deletes a Job's pods after the Job; null keeps the server's default.</param>
    public async Task<bool> DeleteAsync(KubernetesResource resource, string @namespace, string name, string? propagationPolicy, CancellationToken cancellationToken)
    {
        var path = resource.ItemPath(@namespace, name) + (propagationPolicy is null ? "" : $"?propagationPolicy={Uri.EscapeDataString(propagationPolicy)}");
        try
        {
            await SendForObjectAsync(HttpMethod.Delete, path, null, "delete", resource, @namespace, name, cancellationToken);
            return true;
        }
        catch (KubernetesApiException e) when (e.IsNotFound)
        {
            return false;
        }
    }

    public Task<JsonObject?> GetJobAsync(string @namespace, string name, CancellationToken cancellationToken) => GetAsync(KubernetesResource.Jobs, @namespace, name, cancellationToken);

    public Task<IReadOnlyList<JsonObject>> ListPodsAsync(string @namespace, string labelSelector, CancellationToken cancellationToken) => ListAsync(KubernetesResource.Pods, @namespace, labelSelector, cancellationToken);

    /// <summary>Deletes a Job and, in the background, its pods (without a propagation policy the pods would be orphaned).</summary>
    public Task<bool> DeleteJobAsync(string @namespace, string name, CancellationToken cancellationToken) => DeleteAsync(KubernetesResource.Jobs, @namespace, name, "Background", cancellationToken);

    /// <summary>
    /// One watch connection on one object, from <paramref name="resourceVersion"/>: yields events until the server
    /// ends the stream (it does so after its watch timeout). An <c>ERROR</c> event is yielded, not thrown, so the
    /// caller can tell 410 Expired (list again) from the rest.
    /// </summary>
    public async IAsyncEnumerable<WatchEvent> WatchAsync(KubernetesResource resource, string @namespace, string name, string? resourceVersion, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var path = $"{resource.CollectionPath(@namespace)}?watch=true&fieldSelector={Uri.EscapeDataString($"metadata.name={name}")}&allowWatchBookmarks=true"
            + (string.IsNullOrEmpty(resourceVersion) ? "" : $"&resourceVersion={Uri.EscapeDataString(resourceVersion)}");
        using var response = await SendAsync(HttpMethod.Get, path, null, "watch", resource, @namespace, name, streaming: true, cancellationToken);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken), Encoding.UTF8);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }
            var node = JsonNode.Parse(line) as JsonObject ?? throw new InvalidDataException("A watch event is not a JSON object.");
            var type = node["type"]?.GetValue<string>() ?? throw new InvalidDataException("A watch event has no type.");
            yield return new WatchEvent(type, node["object"] as JsonObject ?? []);
        }
    }

    /// <summary>
    /// Follows one object from <paramref name="initial"/> on: yields it, then every change. Re-establishes the watch
    /// from the last seen resourceVersion when the stream ends or breaks, lists again after 410 Expired, and falls
    /// back to polling every <paramref name="pollInterval"/> when the server refuses to watch (403/405). Ends with a
    /// <see cref="KubernetesApiException"/> (404) if the object is deleted. The caller stops enumerating when it has
    /// seen enough.
    /// </summary>
    public async IAsyncEnumerable<JsonObject> ObserveAsync(KubernetesResource resource, string @namespace, JsonObject initial, TimeSpan pollInterval, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var name = NameOf(initial) ?? throw new ArgumentException("The observed object needs metadata.name.", nameof(initial));
        yield return initial;
        var resourceVersion = ResourceVersionOf(initial);
        var polling = false;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (polling || resourceVersion is null)
            {
                var current = await GetAsync(resource, @namespace, name, cancellationToken) ?? throw Deleted(resource, @namespace, name);
                resourceVersion = ResourceVersionOf(current);
                yield return current;
                if (polling)
                {
                    await Task.Delay(pollInterval, cancellationToken);
                    continue;
                }
            }

            await using var events = WatchAsync(resource, @namespace, name, resourceVersion, cancellationToken).GetAsyncEnumerator(cancellationToken);
            var received = 0;
            while (true)
            {
                WatchEvent? next;
                try
                {
                    next = await events.MoveNextAsync() ? events.Current : null;
                }
                catch (KubernetesApiException e) when (e.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.MethodNotAllowed)
                {
                    // Allowed to get but not to watch: poll instead.
                    polling = true;
                    break;
                }
                catch (Exception e) when (e is HttpRequestException or IOException or SocketException && !cancellationToken.IsCancellationRequested)
                {
                    // A dropped connection: watch again from where we were, after a breath.
                    await Task.Delay(pollInterval, cancellationToken);
                    break;
                }
                if (next is null)
                {
                    if (received == 0)
                    {
                        // A server that closes empty watches at once must not be hammered.
                        await Task.Delay(pollInterval, cancellationToken);
                    }
                    break;
                }
                received++;
                switch (next.Type)
                {
                    case "ADDED" or "MODIFIED":
                        resourceVersion = ResourceVersionOf(next.Object) ?? resourceVersion;
                        yield return next.Object;
                        break;
                    case "BOOKMARK":
                        resourceVersion = ResourceVersionOf(next.Object) ?? resourceVersion;
                        break;
                    case "DELETED":
                        throw Deleted(resource, @namespace, name);
                    case "ERROR" when next.Object["code"]?.GetValue<int>() == (int)HttpStatusCode.Gone:
                        resourceVersion = null;
                        break;
                    case "ERROR":
                        throw StatusError(next.Object, HttpStatusCode.InternalServerError, "watch", resource, @namespace, name);
                }
                if (resourceVersion is null)
                {
                    break;
                }
            }
        }
    }

    /// <summary>The log of one container, line by line; with <paramref name="follow"/> until the container ends.</summary>
    public async IAsyncEnumerable<string> ReadLogAsync(string @namespace, string pod, string container, bool follow, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var path = $"{KubernetesResource.Pods.ItemPath(@namespace, pod)}/log?container={Uri.EscapeDataString(container)}" + (follow ? "&follow=true" : "");
        using var response = await SendAsync(HttpMethod.Get, path, null, "read the log of", KubernetesResource.Pods, @namespace, pod, streaming: true, cancellationToken);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken), Encoding.UTF8);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            yield return line;
        }
    }

    public void Dispose() => _http.Dispose();

    private async Task<JsonObject> SendForObjectAsync(HttpMethod method, string path, JsonObject? body, string verb, KubernetesResource resource, string @namespace, string? name, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_requestTimeout);
        try
        {
            using var response = await SendAsync(method, path, body, verb, resource, @namespace, name, streaming: false, timeout.Token);
            var text = await response.Content.ReadAsStringAsync(timeout.Token);
            return text.Length == 0 ? [] : JsonNode.Parse(text) as JsonObject ?? throw new InvalidDataException($"The Kubernetes API answered {verb} {resource.Plural} with something other than a JSON object.");
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The Kubernetes API did not answer {method} {path} within {_requestTimeout.TotalSeconds:0} s.");
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, JsonObject? body, string verb, KubernetesResource resource, string @namespace, string? name, bool streaming, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(streaming && path.Contains("/log?", StringComparison.Ordinal) ? "text/plain" : "application/json"));
        request.Headers.Authorization = await Connection.Auth.AuthorizationAsync(cancellationToken);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8);
            request.Content.Headers.ContentType = Json;
        }
        var response = await _http.SendAsync(request, streaming ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead, cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            JsonObject? status = null;
            try
            {
                status = text.Length > 0 ? JsonNode.Parse(text) as JsonObject : null;
            }
            catch (JsonException)
            {
                // Not a Status object (a proxy in front of the API server, say): the text is the message.
            }
            throw status is not null && status["kind"]?.GetValue<string>() == "Status"
                ? StatusError(status, response.StatusCode, verb, resource, @namespace, name)
                : new KubernetesApiException(response.StatusCode, null, Truncate(text), verb, resource.Plural, @namespace, name);
        }
    }

    private static KubernetesApiException StatusError(JsonObject status, HttpStatusCode fallback, string verb, KubernetesResource resource, string @namespace, string? name)
    {
        var code = status["code"] is JsonValue c && c.TryGetValue<int>(out var value) ? (HttpStatusCode)value : fallback;
        return new KubernetesApiException(code, status["reason"]?.GetValue<string>(), status["message"]?.GetValue<string>() ?? "", verb, resource.Plural, @namespace, name);
    }

    private static KubernetesApiException Deleted(KubernetesResource resource, string @namespace, string name) =>
        new(HttpStatusCode.NotFound, "NotFound", $"{resource.Kind} {name} was deleted while being watched", "watch", resource.Plural, @namespace, name);

    private static string Truncate(string text) => text.Length <= 500 ? text : text[..500] + "…";

    internal static string? NameOf(JsonObject body) => body["metadata"]?["name"]?.GetValue<string>();

    internal static string? ResourceVersionOf(JsonObject body) => body["metadata"]?["resourceVersion"]?.GetValue<string>() is { Length: > 0 } version ? version : null;
}
