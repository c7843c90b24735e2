using Wave.Core.Builds;

namespace Wave.Builder.Local;

public static class LocalBuildServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="BuildahBuildBackend"/> as the <see cref="IBuildBackend"/>, with <see cref="LocalBuildOptions"/>
    /// bound from <c>Wave:Build:Local</c>. Call it when the configured backend is the local one.
    /// </summary>
    public static IServiceCollection AddLocalBuildBackend(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<LocalBuildOptions>(configuration.GetSection(LocalBuildOptions.SectionName));
        services.AddSingleton<BuildahBuildBackend>();
        services.AddSingleton<IBuildBackend>(provider => provider.GetRequiredService<BuildahBuildBackend>());
        return services;
    }
}
