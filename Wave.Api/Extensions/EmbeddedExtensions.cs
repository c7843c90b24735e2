namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// The embedded topology: with <c>Wave:Embedded=true</c> this one process also hosts the /v2/ registry endpoints and
/// the build worker (the registry proxy's and the builder's own extension methods), with the in-process state the
/// absence of connection strings selects. It is what the AppHost runs by default on http://localhost:9090; without the
/// switch the Api serves only the REST endpoints, as in the distributed topology.
/// </summary>
public static class EmbeddedExtensions
{
    public const string EmbeddedKey = "Wave:Embedded";

    public static bool IsWaveEmbedded(this IConfiguration configuration) => configuration.GetValue<bool>(EmbeddedKey);

    public static IHostApplicationBuilder AddWaveEmbeddedServices(this IHostApplicationBuilder builder)
    {
        if (builder.Configuration.IsWaveEmbedded())
        {
            builder.AddWaveRegistryProxy();
            builder.AddWaveBuilder();
        }
        return builder;
    }

    public static WebApplication MapWaveEmbeddedServices(this WebApplication app)
    {
        if (app.Configuration.IsWaveEmbedded())
        {
            app.MapWaveRegistryProxy();
            app.MapWaveBuilder();
        }
        return app;
    }
}
