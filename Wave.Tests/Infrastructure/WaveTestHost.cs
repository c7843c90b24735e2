using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Wave.Tests.Infrastructure;

public enum WaveRole
{
    /// <summary>Api + /v2/ + Builder in one host with in-process state: what `dotnet run --project Wave.AppHost` serves (Wave.Api with Wave:Embedded=true).</summary>
    Embedded,
    Api,
    RegistryProxy,
    Builder,
}

/// <summary>
/// A Wave service host on a real loopback port, wired exactly as its Program.cs wires it, so that real registry
/// clients (docker, skopeo) can pull from it. Each host has its own DI container and configuration; two hosts
/// share only what their configuration points at (Redis).
/// </summary>
public sealed class WaveTestHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private WaveTestHost(WebApplication app, Uri address)
    {
        _app = app;
        BaseAddress = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Uri BaseAddress { get; }

    /// <summary>host:port, as it appears in image names.</summary>
    public string Host => BaseAddress.Authority;

    public HttpClient Client { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<WaveTestHost> StartAsync(WaveRole role, IDictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            EnvironmentName = "Development",
            ApplicationName = role == WaveRole.Embedded ? "Wave.Api" : $"Wave.{role}",
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Wave"] = "Information",
            // Every test client is the anonymous 127.0.0.1: the default 250 pulls per hour would make tests depend
            // on each other's pulls. Tests of the limits set their own numbers, which override this.
            ["Wave:RateLimits:AnonymousPulls:Limit"] = "1000000",
            ["Wave:RateLimits:AnonymousBuilds:Limit"] = "1000000",
            // Each host has its own embedded build database unless the test shares one (or sets Postgres).
            ["Wave:DataDirectory"] = Path.Combine(Path.GetTempPath(), "wave-host-" + Guid.NewGuid().ToString("N")[..12]),
        });
        builder.Configuration.AddInMemoryCollection(settings);
        if (!settings.ContainsKey("Wave:DataDirectory") && !settings.ContainsKey("Wave:Builds:SqlitePath"))
        {
            // Each host its own SQLite file (records, builds), never .wave in the test's working folder.
            builder.Configuration["Wave:DataDirectory"] = Directory.CreateTempSubdirectory("wave-host-").FullName;
        }
        builder.WebHost.UseUrls("http://127.0.0.1:0");

        builder.AddServiceDefaults();
        if (role is WaveRole.Embedded or WaveRole.Api)
        {
            builder.AddWaveApi();
        }
        if (role is WaveRole.Embedded or WaveRole.RegistryProxy)
        {
            builder.AddWaveRegistryProxy();
        }
        if (role is WaveRole.Embedded or WaveRole.Builder)
        {
            builder.AddWaveBuilder();
        }

        var app = builder.Build();
        app.MapDefaultEndpoints();
        if (role is WaveRole.Embedded or WaveRole.Api)
        {
            app.MapWaveApi();
        }
        if (role is WaveRole.Embedded or WaveRole.RegistryProxy)
        {
            app.MapWaveRegistryProxy();
        }
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new WaveTestHost(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
