using Wave.Api.Views;

namespace Wave.Api.Apis;

/// <summary>
/// <c>GET /</c>: a page for a person who opens Wave's address in a browser (what it is, where the API reference and
/// the service info are), and the OpenAPI document of the API, made by ASP.NET Core from the endpoints themselves
/// (<c>GET /openapi/wave.json</c>).
/// </summary>
public static class LandingPage
{
    public const string OpenApiDocument = "wave";
    public const string OpenApiPath = "/openapi/wave.json";

    public static IEndpointRouteBuilder MapLandingPage(this IEndpointRouteBuilder app)
    {
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapGet("/", () => TypedResults.Content(Html, "text/html; charset=utf-8")).ExcludeFromDescription();
        return app;
    }

    private static readonly string Html = new HtmlPage("Wave container provisioning")
        .Raw("<p>This is a Wave service: it answers a container request with an image name that any registry client can pull, "
            + "augmenting an existing image with layers and settings during the pull, or building one from a Dockerfile, Conda "
            + "packages or a Singularity definition. Nextflow (the nf-wave plugin) and wave-cli speak to it directly.</p>\n")
        .Heading("Where to look")
        .Table("links", [
            ("API reference", new HtmlPage.Markup($"<a href=\"{OpenApiPath}\">{OpenApiPath}</a> (OpenAPI document)")),
            ("service info", new HtmlPage.Markup("<a href=\"/service-info\">/service-info</a> (version and commit)")),
            ("health", new HtmlPage.Markup("<a href=\"/health\">/health</a>")),
            ("request a container", new HtmlPage.Markup("<code>POST /v1alpha2/container</code>")),
            ("follow a request", new HtmlPage.Markup("<code>GET /v1alpha2/container/{requestId}/status</code>")),
        ])
        .Render();
}
