using System.Globalization;

namespace Wave.AppHost.Settings;

/// <summary>Which processes the AppHost runs: one Wave process (the default), or the three services and their backing servers.</summary>
public enum WaveTopology
{
    Embedded,
    Distributed,
}

/// <summary>How the distributed topology's Redis, Postgres and RabbitMQ run.</summary>
public enum BackingServices
{
    /// <summary>Containers when a container runtime answers and their registry (docker.io) is reachable, else executables.</summary>
    Auto,

    /// <summary>Aspire's own container resources (<c>AddRedis</c>, <c>AddPostgres</c>, <c>AddRabbitMQ</c>) unchanged.</summary>
    Containers,

    /// <summary>The same resources from the server binaries on PATH (<see cref="LocalServers"/>).</summary>
    Executables,
}

/// <summary>
/// The AppHost's own settings (configuration keys under <c>Wave:</c>, from the command line after <c>--</c>, the
/// launch profile or the environment as <c>Wave__Topology</c>).
/// </summary>
public sealed record AppHostSettings(WaveTopology Topology, BackingServices BackingServices, string DataDirectory, int Port)
{
    public const string TopologyKey = "Wave:Topology";
    public const string BackingServicesKey = "Wave:BackingServices";
    public const string DataDirectoryKey = "Wave:DataDirectory";
    public const string PortKey = "Wave:Port";

    /// <summary>The embedded Wave's port: fixed, so that the image names it hands out stay pullable across restarts.</summary>
    public const int DefaultPort = 9090;

    /// <param name="configuration">the AppHost's configuration</param>
    /// <param name="appHostDirectory">the AppHost project's folder: data goes to <c>.wave</c> beside it, at the repository root</param>
    public static AppHostSettings From(IConfiguration configuration, string appHostDirectory)
    {
        var topology = Parse(configuration[TopologyKey], TopologyKey, WaveTopology.Embedded);
        var backing = Parse(configuration[BackingServicesKey], BackingServicesKey, BackingServices.Auto);
        var data = configuration[DataDirectoryKey];
        var port = configuration[PortKey] is { Length: > 0 } text
            ? int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed is > 0 and < 65536
                ? parsed
                : throw new ArgumentException($"{PortKey} '{text}' is not a TCP port")
            : DefaultPort;
        return new AppHostSettings(topology, backing,
            Path.GetFullPath(string.IsNullOrWhiteSpace(data) ? Path.Combine(appHostDirectory, "..", ".wave") : data), port);
    }

    private static T Parse<T>(string? value, string key, T fallback) where T : struct, Enum =>
        string.IsNullOrWhiteSpace(value) ? fallback
        : Enum.GetNames<T>().FirstOrDefault(n => n.Equals(value.Trim(), StringComparison.OrdinalIgnoreCase)) is { } name ? Enum.Parse<T>(name)
        : throw new ArgumentException($"{key} '{value}' is not one of: {string.Join(", ", Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}");
}
