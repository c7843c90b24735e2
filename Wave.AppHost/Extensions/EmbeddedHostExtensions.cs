namespace Microsoft.AspNetCore.Builder;

public static class EmbeddedHostExtensions
{
    /// <summary>Listens on <paramref name="url"/> unless an address was configured (--urls, ASPNETCORE_URLS, urls).</summary>
    public static WebApplicationBuilder UseDefaultUrl(this WebApplicationBuilder builder, string url)
    {
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"])
            && string.IsNullOrEmpty(builder.Configuration["Kestrel:Endpoints:Http:Url"]))
        {
            builder.WebHost.UseUrls(url);
        }
        return builder;
    }
}
