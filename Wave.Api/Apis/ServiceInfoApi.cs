using System.Reflection;
using System.Text.Json.Serialization;

namespace Wave.Api.Apis;

public static class ServiceInfoApi
{
    public sealed record ServiceInfo(
        [property: JsonPropertyName("version")] string Version,
        [property: JsonPropertyName("commitId")] string CommitId);

    public sealed record ServiceInfoResponse([property: JsonPropertyName("serviceInfo")] ServiceInfo ServiceInfo);

    private static readonly ServiceInfoResponse Info = Read();

    public static IEndpointRouteBuilder MapServiceInfoApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/service-info", () => TypedResults.Ok(Info));
        return app;
    }

    /// <summary>The informational version is <c>VERSION+COMMIT</c> (the build stamps the git commit, see Directory.Build.targets).</summary>
    private static ServiceInfoResponse Read()
    {
        var informational = typeof(ServiceInfoApi).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = informational.IndexOf('+');
        var version = plus < 0 ? informational : informational[..plus];
        var commit = plus < 0 ? "unknown" : informational[(plus + 1)..];
        return new ServiceInfoResponse(new ServiceInfo(version, commit));
    }
}
