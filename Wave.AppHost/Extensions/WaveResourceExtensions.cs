using Microsoft.Extensions.Logging;

using Wave.AppHost.Settings;

namespace Wave.AppHost.Extensions;

public static class WaveResourceExtensions
{
    /// <summary>
    /// Each service's files (the embedded SQLite file, the proxy's blob cache, build folders) under the AppHost's data
    /// folder, one folder per resource, instead of beside the project's sources.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithDataDirectory(this IResourceBuilder<ProjectResource> builder, AppHostSettings settings) =>
        builder.ApplicationBuilder.ExecutionContext.IsRunMode
            ? builder.WithEnvironment("Wave__DataDirectory", Path.Combine(settings.DataDirectory, builder.Resource.Name))
            : builder;

    /// <summary>Prints <paramref name="format"/> with the resource's http URL on the AppHost's console once the resource is healthy.</summary>
    public static IResourceBuilder<ProjectResource> WithReadyMessage(this IResourceBuilder<ProjectResource> builder, string format)
    {
        builder.ApplicationBuilder.Eventing.Subscribe<ResourceReadyEvent>(builder.Resource, (ready, _) =>
        {
            var url = builder.Resource.GetEndpoint("http").Url;
            ready.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Wave.AppHost")
                .LogInformation("{Message}", string.Format(System.Globalization.CultureInfo.InvariantCulture, format, url));
            return Task.CompletedTask;
        });
        return builder;
    }

    /// <summary>
    /// What runs Redis, Postgres and RabbitMQ: the setting, or for <c>auto</c> containers when they can run here and
    /// the server binaries otherwise (the reason is printed).
    /// </summary>
    public static async Task<BackingServices> ResolveBackingServicesAsync(this AppHostSettings settings, IConfiguration configuration)
    {
        if (settings.BackingServices != BackingServices.Auto)
        {
            return settings.BackingServices;
        }
        var reason = await ContainerRuntimeProbe.WhyContainersCannotRunAsync(configuration);
        if (reason is null)
        {
            return BackingServices.Containers;
        }
        Console.WriteLine($"Wave.AppHost: Redis, Postgres and RabbitMQ run from their server binaries: {reason} (Wave:BackingServices=containers forces containers)");
        return BackingServices.Executables;
    }
}
