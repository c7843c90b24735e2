using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Wave.Tests.ServiceDefaults;

/// <summary>Real Kestrel apps on loopback ports for the service defaults tests.</summary>
internal static class TestApps
{
    /// <summary>A builder that reads only what the test gives it (no appsettings, no stray OTEL_* from the shell).</summary>
    public static WebApplicationBuilder Builder(IDictionary<string, string?>? configuration = null)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
        builder.WebHost.UseKestrelCore();
        builder.Services.AddRoutingCore();
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Configuration.AddInMemoryCollection(configuration ?? new Dictionary<string, string?>());
        return builder;
    }

    public static async Task<Uri> StartOnLoopbackAsync(this WebApplication app)
    {
        app.Urls.Add("http://127.0.0.1:0");
        await app.StartAsync(TestContext.Current.CancellationToken);
        return new Uri(app.Urls.Single());
    }
}
