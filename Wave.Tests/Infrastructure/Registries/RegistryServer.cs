using Wave.Core.Registry;

namespace Wave.Tests.Infrastructure;

/// <summary>
/// A CNCF distribution registry (<c>docker-registry serve</c>) on a loopback port with filesystem storage in a temp
/// folder. It can be stopped and started again on the same port with the same data, for fault tests.
/// </summary>
public sealed class RegistryServer : IAsyncDisposable
{
    private readonly string _configPath;
    private readonly int _port;
    private TestProcess? _process;

    private RegistryServer(string configPath, int port, RegistryCredentials? credentials)
    {
        _configPath = configPath;
        _port = port;
        Credentials = credentials;
    }

    /// <summary>The registry as written in image names: <c>127.0.0.1:PORT</c>.</summary>
    public string Host => $"127.0.0.1:{_port}";

    /// <summary>The login this registry requires, or null when it allows anonymous access.</summary>
    public RegistryCredentials? Credentials { get; }

    public string Output => _process?.Output ?? "";

    /// <summary>The registry process while it runs.</summary>
    public int? ProcessId => _process?.Id;

    /// <summary>Writes a config into <paramref name="directory"/> (storage under it too) and starts the registry.</summary>
    /// <param name="authSection">The YAML <c>auth:</c> block, already indented, or null for an open registry.</param>
    public static async Task<RegistryServer> StartNewAsync(string directory, string? authSection, RegistryCredentials? credentials)
    {
        Requirements.Binary("docker-registry", "docker-registry");
        Directory.CreateDirectory(directory);
        var port = FreePort.Next();
        var storage = Path.Combine(directory, "storage");
        Directory.CreateDirectory(storage);
        var config = $"""
            version: 0.1
            log:
              level: warn
              accesslog:
                disabled: true
            storage:
              filesystem:
                rootdirectory: {storage}
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:{port}
              secret: wave-test-secret
            {authSection ?? ""}
            """;
        var configPath = Path.Combine(directory, "config.yml");
        await File.WriteAllTextAsync(configPath, config);
        var server = new RegistryServer(configPath, port, credentials);
        await server.StartAsync();
        return server;
    }

    /// <summary>Starts (again) on the same port with the same storage.</summary>
    public async Task StartAsync()
    {
        if (_process is { HasExited: false })
        {
            return;
        }
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
        var binary = Requirements.Binary("docker-registry", "docker-registry");
        _process = TestProcess.Start(binary, ["serve", _configPath]);
        var process = _process;
        await FreePort.WaitListeningAsync(_port, TimeSpan.FromSeconds(20), () => process.Output);
    }

    /// <summary>Kills the registry; its port then refuses connections until <see cref="StartAsync"/>.</summary>
    public async Task StopAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
            _process = null;
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    public override string ToString() => Host;
}
