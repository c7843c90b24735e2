namespace Wave.AppHost.Embedded;

/// <summary>
/// Embedded mode: the Api, the /v2/ registry endpoints and the Builder worker in one web host, with in-process
/// state, on http://localhost:9090 unless --urls / ASPNETCORE_URLS say otherwise.
/// </summary>
public static class EmbeddedHost
{
    public static async Task RunAsync(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.UseDefaultUrl("http://localhost:9090");

        builder.AddServiceDefaults();
        builder.AddWaveApi();
        builder.AddWaveRegistryProxy();
        builder.AddWaveBuilder();

        var app = builder.Build();

        app.MapDefaultEndpoints();
        app.MapWaveApi();
        app.MapWaveRegistryProxy();
        app.MapWaveBuilder();

        await app.RunAsync();
    }
}
