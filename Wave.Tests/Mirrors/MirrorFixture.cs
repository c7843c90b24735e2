using System.Collections.Concurrent;

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

using Wave.Core.Registry;
using Wave.Core.Security;
using Wave.Tests.Infrastructure;
using Wave.Tests.Records;

namespace Wave.Tests.Mirrors;

/// <summary>
/// What the mirror tests share: an embedded Wave host (Api, /v2/ and builder in one process, SQLite records, the
/// in-process queue), a relay in front of the open registry as the source (its blob downloads can be slowed), a relay
/// in front of the htpasswd registry as the target (it counts every request), and a Platform endpoint that keeps the
/// user's login for the target. Wave itself has no login for the target's name: the copy can only push with the one
/// the request brought from Platform. Every log line the host writes is kept, to look for secrets in it.
/// </summary>
public sealed class MirrorFixture : IAsyncDisposable
{
    public const string MetricsPassword = "metrics-pw-for-mirrors";

    private readonly Lock _gate = new();
    private Task<MirrorEnvironment>? _environment;

    public Task<MirrorEnvironment> GetAsync(TestRegistries registries)
    {
        lock (_gate)
        {
            return _environment ??= MirrorEnvironment.StartAsync(registries, extra: null);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_environment is { IsCompletedSuccessfully: true })
        {
            await _environment.Result.DisposeAsync();
        }
    }
}

/// <summary>The registries and Platform a mirror test talks to, without a Wave host (fault tests start their own).</summary>
public sealed class MirrorEndpoints : IAsyncDisposable
{
    private MirrorEndpoints(TestRegistries registries, RegistryRelay source, RegistryRelay target, PlatformStub platform)
    {
        Registries = registries;
        Source = source;
        Target = target;
        Platform = platform;
    }

    public TestRegistries Registries { get; }

    /// <summary>In front of the open registry: the busybox images under this host name; its blob downloads can be slowed.</summary>
    public RegistryRelay Source { get; }

    /// <summary>In front of the htpasswd registry; Platform keeps its login, Wave's configuration does not.</summary>
    public RegistryRelay Target { get; }

    public PlatformStub Platform { get; }

    /// <summary>The target's login (the htpasswd registry's), which must never show in an answer or a log.</summary>
    public RegistryCredentials TargetLogin => Registries.Basic.Credentials!;

    /// <summary>A source image name through the source relay: <c>relay/base/busybox:multi</c> for the open registry's <c>…/base/busybox:multi</c>.</summary>
    public string ViaSource(string image) => Source.Host + image[image.IndexOf('/')..];

    /// <summary>A name in the target relay's namespace, read directly from the htpasswd registry behind it.</summary>
    public string Direct(string targetImage) => Registries.Basic.Host + targetImage[targetImage.IndexOf('/')..];

    public static async Task<MirrorEndpoints> StartAsync(TestRegistries registries)
    {
        Requirements.Binary("skopeo", "skopeo");
        var source = await RegistryRelay.StartAsync(registries.Plain);
        var target = await RegistryRelay.StartAsync(registries.Basic);
        var platform = await PlatformStub.StartAsync(new Dictionary<string, RegistryCredentials> { [target.Host] = registries.Basic.Credentials! });
        return new MirrorEndpoints(registries, source, target, platform);
    }

    /// <summary>The settings of a Wave host for mirror tests: the test registries' logins, an admin and a metrics account, a short build lease.</summary>
    public static Dictionary<string, string?> HostSettings(TestRegistries registries, Dictionary<string, string?>? extra)
    {
        var settings = RecordsTestSupport.Settings(registries);
        settings["Wave:Metrics:Accounts:0:UserName"] = "metrics";
        settings["Wave:Metrics:Accounts:0:PasswordHash"] = PasswordHash.Create(MirrorFixture.MetricsPassword, iterations: 1000);
        settings["Wave:Build:Lease:Timeout"] = "00:00:05";
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }
        return settings;
    }

    public async ValueTask DisposeAsync()
    {
        await Platform.DisposeAsync();
        await Source.DisposeAsync();
        await Target.DisposeAsync();
    }
}

/// <summary>The shared mirror endpoints and one embedded Wave host over them, whose log lines are kept.</summary>
public sealed class MirrorEnvironment : IAsyncDisposable
{
    private readonly MirrorEndpoints _endpoints;

    private MirrorEnvironment(MirrorEndpoints endpoints, WaveTestHost wave, LogCapture logs)
    {
        _endpoints = endpoints;
        Wave = wave;
        Logs = logs;
    }

    public TestRegistries Registries => _endpoints.Registries;
    public RegistryRelay Source => _endpoints.Source;
    public RegistryRelay Target => _endpoints.Target;
    public PlatformStub Platform => _endpoints.Platform;
    public RegistryCredentials TargetLogin => _endpoints.TargetLogin;
    public WaveTestHost Wave { get; }
    public LogCapture Logs { get; }

    public string ViaSource(string image) => _endpoints.ViaSource(image);

    public string Direct(string targetImage) => _endpoints.Direct(targetImage);

    public static async Task<MirrorEnvironment> StartAsync(TestRegistries registries, Dictionary<string, string?>? extra)
    {
        var endpoints = await MirrorEndpoints.StartAsync(registries);
        var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, MirrorEndpoints.HostSettings(registries, extra));
        return new MirrorEnvironment(endpoints, wave, LogCapture.Attach(wave));
    }

    public async ValueTask DisposeAsync()
    {
        await Wave.DisposeAsync();
        await _endpoints.DisposeAsync();
    }
}

/// <summary>Every log line of a host, formatted with its arguments (what a log sink would store).</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public string Text => string.Join('\n', _lines);

    public static LogCapture Attach(WaveTestHost host)
    {
        var capture = new LogCapture();
        host.Services.GetRequiredService<ILoggerFactory>().AddProvider(capture);
        return capture;
    }

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");
    }
}
