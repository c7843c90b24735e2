using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

using Wave.Core.Builds;
using Wave.Core.Names;
using Wave.Core.Security;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Registers the one outbound-address policy (<see cref="NetworkTargetPolicy"/>) in every Wave service (from
/// <c>AddWaveCore</c>: the Api checks requests with it, and the Api, registry proxy and builders all connect under it,
/// see <see cref="OutboundConnectionGuard"/>), with defaults that suit the topology: a service that keeps its state in
/// process (no <c>ConnectionStrings:redis</c>: the embedded developer run) reaches loopback registries, a distributed
/// deployment does not unless configured; the hosts the operator configured (registries with credentials, the build
/// and cache repositories, push registries, the default Platform endpoint), and any listed in
/// <c>Wave:Security:TrustedHosts</c>, are trusted wherever they resolve.
/// </summary>
public static class NetworkPolicyExtensions
{
    public static IHostApplicationBuilder AddWaveNetworkPolicy(this IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        builder.Services.Configure<NetworkTargetOptions>(configuration.GetSection("Wave:Security"));
        builder.Services.PostConfigure<NetworkTargetOptions>(options =>
        {
            options.AllowLoopback ??= string.IsNullOrWhiteSpace(configuration.GetConnectionString("redis"));
            options.TrustedHosts.AddRange(ConfiguredHosts(configuration));
        });
        builder.Services.AddSingleton<NetworkTargetPolicy>();
        return builder;
    }

    private static IEnumerable<string> ConfiguredHosts(IConfiguration configuration)
    {
        foreach (var registry in configuration.GetSection("Wave:Registries").GetChildren())
        {
            if (registry["Host"] is { Length: > 0 } host)
            {
                yield return host;
            }
        }
        var build = configuration.GetSection(BuildOptions.Section);
        foreach (var repository in new[] { build["DefaultBuildRepository"], build["DefaultCacheRepository"] })
        {
            if (repository is { Length: > 0 } && ImageReference.TryParse(repository + ":latest", out var name, out _))
            {
                yield return name.Registry;
            }
        }
        foreach (var push in build.GetSection("PushRegistries").GetChildren())
        {
            if (push.Value is { Length: > 0 } host)
            {
                yield return host;
            }
        }
        if (configuration["Wave:Identity:DefaultPlatformEndpoint"] is { } endpoint && Uri.TryCreate(endpoint, UriKind.Absolute, out var uri))
        {
            yield return uri.Authority;
        }
    }
}
