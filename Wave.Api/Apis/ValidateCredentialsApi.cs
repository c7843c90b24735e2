using Wave.Api.Containers;
using Wave.Api.Credentials;
using Wave.Core.Registry;
using Wave.Core.Security;

namespace Wave.Api.Apis;

public static class ValidateCredentialsApi
{
    public static IEndpointRouteBuilder MapValidateCredentialsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/validate-creds", Validate);
        app.MapPost("/v1alpha2/validate-creds", Validate);
        return app;
    }

    /// <summary><c>true</c> when the registry accepts the login through its own auth flow (Basic or Bearer realm), <c>false</c> when it refuses it.</summary>
    public static async Task<IResult> Validate(HttpContext context, RegistryClient registry, NetworkTargetPolicy policy)
    {
        try
        {
            var request = await JsonBody.ReadAsync<ValidateCredentialsRequest>(context, maxBytes: 64 * 1024, "credentials request");
            if (string.IsNullOrEmpty(request.UserName))
            {
                throw ApiException.BadRequest("userName", "is required");
            }
            if (string.IsNullOrEmpty(request.Password))
            {
                throw ApiException.BadRequest("password", "is required");
            }
            var host = NormaliseRegistry(request.Registry);
            if (await policy.CheckAsync(ApiBaseOf(registry, host), context.RequestAborted, host) is { } refusal)
            {
                throw ApiException.BadRequest("registry", $"'{host}' {refusal}");
            }
            var valid = await registry.ValidateCredentialsAsync(host, new RegistryCredentials(request.UserName, request.Password), context.RequestAborted);
            return TypedResults.Ok(valid);
        }
        catch (ApiException e)
        {
            return ContainerApi.Error(e.StatusCode, e.Message, e.Field);
        }
        catch (RegistryException e)
        {
            var upstream = ApiException.Upstream(e, "checking the login");
            return ContainerApi.Error(upstream.StatusCode, upstream.Message);
        }
    }

    /// <summary><c>https://quay.io/</c> → <c>quay.io</c>; empty → <c>docker.io</c>.</summary>
    private static string NormaliseRegistry(string? registry)
    {
        var host = (registry ?? "").Trim();
        foreach (var scheme in new[] { "https://", "http://" })
        {
            if (host.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            {
                host = host[scheme.Length..];
            }
        }
        host = host.TrimEnd('/');
        if (host.Length == 0)
        {
            return "docker.io";
        }
        if (host.Contains('/') || host.Any(char.IsWhiteSpace))
        {
            throw ApiException.BadRequest("registry", $"'{registry}' is not a registry host name (e.g. docker.io, quay.io, localhost:5000)");
        }
        return host;
    }

    /// <summary>The host Wave will connect to for this registry (docker.io is served by registry-1.docker.io).</summary>
    private static Uri ApiBaseOf(RegistryClient registry, string host)
    {
        try
        {
            return registry.BaseUri(host);
        }
        catch (UriFormatException)
        {
            throw ApiException.BadRequest("registry", $"'{host}' is not a registry host name (e.g. docker.io, quay.io, localhost:5000)");
        }
    }
}
