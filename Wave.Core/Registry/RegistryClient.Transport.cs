using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Wave.Core.Registry;

public sealed partial class RegistryClient
{
    private const int MaxRedirects = 5;
    private const int MaxErrorBodyBytes = 64 * 1024;

    /// <summary>
    /// One registry API call: which registry it concerns (for auth and messages), and what to send. <paramref name="Scope"/>
    /// overrides the pull scope asked of a token service (a push needs <c>pull,push</c>); <paramref name="Content"/>
    /// makes the body of the request when it is sent.
    /// </summary>
    private sealed record RegistryRequest(string Registry, string? Repository, HttpMethod Method, Uri Uri, IReadOnlyList<string>? Accept = null,
        string? Scope = null, Func<HttpContent>? Content = null)
    {
        public HttpRequestMessage ToMessage(AuthenticationHeaderValue? authorization)
        {
            var message = new HttpRequestMessage(Method, Uri) { Content = Content?.Invoke() };
            foreach (var mediaType in Accept ?? [])
            {
                message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(mediaType));
            }
            message.Headers.Authorization = authorization;
            return message;
        }
    }

    private Uri ApiUri(string registry, string path) => new(BaseUri(registry), path);

    /// <summary>
    /// Sends a request through the auth flow and follows redirects: with Authorization on the registry's own host,
    /// without it anywhere else. The returned response is any status except 401/403, which become exceptions.
    /// </summary>
    private Task<HttpResponseMessage> SendFollowingRedirectsAsync(RegistryRequest request, CancellationToken cancellationToken)
        => ObservedAsync(request, followForeignRedirects: true, cancellationToken);

    private async Task<HttpResponseMessage> FollowRedirectsAsync(RegistryRequest request, CancellationToken cancellationToken)
    {
        var response = await SameHostRedirectsAsync(request, cancellationToken);
        for (var hop = 0; IsRedirect(response); hop++)
        {
            var target = RedirectTarget(request.Registry, response);
            response.Dispose();
            if (hop == MaxRedirects)
            {
                throw new RegistryException(RegistryErrorKind.InvalidResponse, request.Registry, $"registry {request.Registry} redirected more than {MaxRedirects} times");
            }
            // Another host never sees the registry's credentials or tokens.
            var foreign = request with { Uri = target };
            response = await SendThroughPipelineAsync(request.Registry, () => foreign.ToMessage(authorization: null), cancellationToken);
        }
        return response;
    }

    /// <summary>Like <see cref="SendFollowingRedirectsAsync"/> but a redirect to another host is returned to the caller unfollowed.</summary>
    private Task<HttpResponseMessage> SendWithSameHostRedirectsAsync(RegistryRequest request, CancellationToken cancellationToken)
        => ObservedAsync(request, followForeignRedirects: false, cancellationToken);

    private async Task<HttpResponseMessage> SameHostRedirectsAsync(RegistryRequest request, CancellationToken cancellationToken)
    {
        for (var hop = 0; ; hop++)
        {
            var response = await SendAuthenticatedAsync(request, cancellationToken);
            if (!IsRedirect(response))
            {
                return response;
            }
            var target = RedirectTarget(request.Registry, response);
            if (!SameOrigin(target, request.Uri))
            {
                return response;
            }
            response.Dispose();
            if (hop == MaxRedirects)
            {
                throw new RegistryException(RegistryErrorKind.InvalidResponse, request.Registry, $"registry {request.Registry} redirected more than {MaxRedirects} times");
            }
            request = request with { Uri = target };
        }
    }

    private static bool IsRedirect(HttpResponseMessage response) => (int)response.StatusCode is >= 300 and < 400 and not 304;

    private static Uri RedirectTarget(string registry, HttpResponseMessage response)
    {
        var location = response.Headers.Location
            ?? throw new RegistryException(RegistryErrorKind.InvalidResponse, registry, $"registry {registry} answered {(int)response.StatusCode} without a Location", (int)response.StatusCode);
        return location.IsAbsoluteUri ? location : new Uri(response.RequestMessage!.RequestUri!, location);
    }

    private static bool SameOrigin(Uri a, Uri b)
        => Uri.Compare(a, b, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;

    /// <summary>
    /// Anonymous first (unless this registry's scheme is already known), then once more with the authorization the
    /// registry's challenge asks for. 401/403 on the final answer become <see cref="RegistryErrorKind.Unauthorized"/>.
    /// </summary>
    private async Task<HttpResponseMessage> SendAuthenticatedAsync(RegistryRequest request, CancellationToken cancellationToken)
    {
        var credentials = await _credentials.GetAsync(request.Registry, cancellationToken);
        AuthenticationHeaderValue? authorization = null;
        if (_knownChallenges.TryGetValue(request.Registry, out var known))
        {
            authorization = await AuthorizationForAsync(request.Registry, known, request.Scope ?? DefaultScope(request.Repository), credentials, cancellationToken);
        }
        var response = await SendThroughPipelineAsync(request.Registry, () => request.ToMessage(authorization), cancellationToken);
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            var challenge = ChooseChallenge(response);
            response.Dispose();
            if (challenge is null)
            {
                throw Unauthorized(request.Registry, credentials is not null, "and sent no challenge this client understands");
            }
            if (challenge.IsBasic && credentials is null)
            {
                throw Unauthorized(request.Registry, credentialsUsed: false, "(Basic auth required and no credentials are configured)");
            }
            authorization = await AuthorizationForAsync(request.Registry, challenge, request.Scope ?? challenge["scope"] ?? DefaultScope(request.Repository), credentials, cancellationToken);
            _knownChallenges[request.Registry] = challenge;
            response = await SendThroughPipelineAsync(request.Registry, () => request.ToMessage(authorization), cancellationToken);
        }
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            var status = (int)response.StatusCode;
            response.Dispose();
            throw Unauthorized(request.Registry, credentials is not null, $"({status})", status);
        }
        return response;
    }

    private static string? DefaultScope(string? repository) => repository is null ? null : $"repository:{repository}:pull";

    private static AuthChallenge? ChooseChallenge(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("WWW-Authenticate", out var values))
        {
            return null;
        }
        var challenges = AuthChallenge.Parse(values);
        return challenges.FirstOrDefault(c => c.IsBearer) ?? challenges.FirstOrDefault(c => c.IsBasic);
    }

    private static RegistryException Unauthorized(string registry, bool credentialsUsed, string detail, int? status = null)
        => new(RegistryErrorKind.Unauthorized, registry,
            $"registry {registry} refused access {(credentialsUsed ? "with the configured credentials" : "without credentials")} {detail}", status);

    /// <summary>
    /// Sends one request through the HttpClient's pipeline, which retries what may be retried (the service defaults'
    /// resilience handler: idempotent requests, on 408, 429, 5xx or no answer; never a 401) and bounds the wait for the
    /// headers; the body is the caller's to read, unbounded. Failures become <see cref="RegistryException"/>s naming
    /// the registry.
    /// </summary>
    private async Task<HttpResponseMessage> SendThroughPipelineAsync(string registry, Func<HttpRequestMessage> message, CancellationToken cancellationToken)
    {
        try
        {
            return await _http.SendAsync(message(), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw Unreachable(registry, e);
        }
        catch (TimeoutRejectedException e)
        {
            throw new RegistryException(RegistryErrorKind.Timeout, registry, $"registry {registry} did not answer in time", inner: e);
        }
        catch (BrokenCircuitException e)
        {
            throw new RegistryException(RegistryErrorKind.Unreachable, registry,
                $"registry {registry} is not asked for now: too many of the latest requests to it failed", inner: e);
        }
        catch (ExecutionRejectedException e)
        {
            throw new RegistryException(RegistryErrorKind.Failed, registry, $"registry {registry} was not asked: too many requests to it in flight", inner: e);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new RegistryException(RegistryErrorKind.Timeout, registry, $"registry {registry} did not answer in time", inner: e);
        }
    }

    private static RegistryException Unreachable(string registry, HttpRequestException e)
        => e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError
            or HttpRequestError.SecureConnectionError or HttpRequestError.ProxyTunnelError
            ? new RegistryException(RegistryErrorKind.Unreachable, registry, $"registry {registry} is unreachable: {e.Message}", inner: e)
            : new RegistryException(RegistryErrorKind.Failed, registry, $"registry {registry} failed: {e.Message}", inner: e);

    /// <summary>The exception for a final non-success answer, using the registry's error codes when it sent any.</summary>
    private static async Task<RegistryException> ErrorFromAsync(string registry, HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        using (response)
        {
            var status = (int)response.StatusCode;
            var codes = await ErrorCodesAsync(response, cancellationToken);
            var codeText = codes.Count > 0 ? $" ({string.Join(", ", codes)})" : "";
            if (response.StatusCode == HttpStatusCode.NotFound
                || codes.Any(c => c is "MANIFEST_UNKNOWN" or "NAME_UNKNOWN" or "BLOB_UNKNOWN"))
            {
                return new RegistryException(RegistryErrorKind.NotFound, registry, $"registry {registry}: {what} not found{codeText}", status);
            }
            if (codes.Any(c => c is "UNAUTHORIZED" or "DENIED"))
            {
                return new RegistryException(RegistryErrorKind.Unauthorized, registry, $"registry {registry} refused access to {what}{codeText}", status);
            }
            return new RegistryException(RegistryErrorKind.Failed, registry, $"registry {registry} answered {status} for {what}{codeText}", status);
        }
    }

    private static async Task<IReadOnlyList<string>> ErrorCodesAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var body = await ReadLimitedAsync(response.Content, MaxErrorBodyBytes, cancellationToken);
            if (body is null || body.Length == 0)
            {
                return [];
            }
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("errors", out var errors)
                || errors.ValueKind != JsonValueKind.Array)
            {
                return [];
            }
            return [.. errors.EnumerateArray()
                .Where(e => e.ValueKind == JsonValueKind.Object && e.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String)
                .Select(e => e.GetProperty("code").GetString()!)];
        }
        catch (Exception e) when (e is JsonException or IOException or HttpRequestException)
        {
            return [];
        }
    }

    /// <summary>The body, or null when it is longer than <paramref name="maxBytes"/> (checked before and while reading).</summary>
    private static async Task<byte[]?> ReadLimitedAsync(HttpContent content, long maxBytes, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > maxBytes)
        {
            return null;
        }
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                return null;
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>Reads a body for the API methods, turning a broken connection into a registry failure.</summary>
    private async Task<byte[]?> ReadBodyAsync(string registry, HttpResponseMessage response, long maxBytes, CancellationToken cancellationToken)
    {
        try
        {
            return await ReadLimitedAsync(response.Content, maxBytes, cancellationToken);
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            throw new RegistryException(RegistryErrorKind.Failed, registry, $"registry {registry}: the connection broke while reading the answer: {e.Message}", inner: e);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new RegistryException(RegistryErrorKind.Timeout, registry, $"registry {registry} did not answer in time", inner: e);
        }
    }
}
