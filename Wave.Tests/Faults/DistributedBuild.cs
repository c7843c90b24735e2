using Wave.Tests.Builds.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Persistence;

namespace Wave.Tests.Faults;

/// <summary>
/// The distributed build path the fault tests break: an Api host in the test process and builders as processes of
/// their own (`dotnet Wave.Builder.dll`), on a Postgres database and a RabbitMQ queue of the test's own.
/// </summary>
internal static class DistributedBuild
{
    public static Dictionary<string, string?> Settings(TestRegistries registries, string name, string postgres, string rabbitmq)
    {
        var work = Path.Combine(Path.GetTempPath(), $"wave-{name}-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = BuildHostFixture.Settings(registries, work);
        settings["ConnectionStrings:postgres"] = postgres;
        settings["ConnectionStrings:rabbitmq"] = rabbitmq;
        settings["Wave:Build:QueueName"] = TestJobs.UniqueQueueName();
        settings["Wave:Build:Concurrency"] = "1";
        return settings;
    }

    /// <summary>A builder process with the same settings, listening (healthy) before this returns.</summary>
    public static async Task<TestProcess> StartBuilderAsync(Dictionary<string, string?> settings)
    {
        var port = FreePort.Next();
        var environment = settings.ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value);
        environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        environment["Logging__LogLevel__Default"] = "Warning";
        environment["Logging__LogLevel__Wave"] = "Information";
        var dotnet = Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet";
        var builder = TestProcess.Start(dotnet, [Path.Combine(AppContext.BaseDirectory, "Wave.Builder.dll")], environment, AppContext.BaseDirectory);
        await FreePort.WaitListeningAsync(port, TimeSpan.FromSeconds(60), () => builder.Output);
        return builder;
    }

    /// <summary>Waits (bounded) until the build's log holds <paramref name="line"/>, i.e. its RUN step got there.</summary>
    public static async Task WaitForLogLineAsync(HttpClient api, string buildId, string line, TestProcess builder)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while (!(await api.LogsAsync(buildId)).Contains(line + "\n", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the build's log never said '{line}'; builder output:\n{builder.Output}");
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
    }
}
