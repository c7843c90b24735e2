using System.Text.Json.Serialization;

using Wave.AppHost.Dashboard;
using Wave.AppHost.Model;

namespace Wave.AppHost.Orchestration;

/// <summary>
/// Run mode's own web host: the dashboard and the OTLP receiver on the AppHost's port (http://localhost:18888 unless
/// --urls / ASPNETCORE_URLS say otherwise), with the <see cref="Orchestrator"/> running the resources.
/// </summary>
public static class DistributedHost
{
    public const string DefaultUrl = "http://localhost:18888";

    public static async Task<int> RunAsync(ApplicationModel model, AppHostMode.Distributed mode)
    {
        var builder = WebApplication.CreateBuilder(mode.Args);
        builder.UseDefaultUrl(DefaultUrl);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(90));
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        builder.Services.AddSingleton(model);
        builder.Services.AddSingleton(mode);
        builder.Services.AddSingleton<ResourceBoard>();
        builder.Services.AddSingleton<TraceStore>();
        builder.Services.AddSingleton<Orchestrator>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Orchestrator>());

        var app = builder.Build();
        app.MapDashboard();
        await app.RunAsync();
        return Environment.ExitCode;
    }
}
