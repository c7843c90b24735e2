using System.Text.Json.Nodes;

using Microsoft.Playwright;

using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Persistence;
using Wave.Tests.Infrastructure.Redis;

namespace Wave.Tests.AppHost;

/// <summary>
/// The dashboard in a real (headless) Chromium: the AppHost in run mode selected by connection strings alone, so the
/// backing services come from configuration and only the three services are started.
/// </summary>
public sealed class DashboardTests(RedisFixture redisFixture, PostgresFixture postgresFixture, RabbitMqFixture rabbitFixture)
{
    [Fact]
    public async Task The_dashboard_shows_resources_their_logs_and_the_traces_the_services_send()
    {
        var chromium = Requirements.Binary("chromium", "chromium");
        var cancellation = TestContext.Current.CancellationToken;
        var redis = await redisFixture.GetAsync();
        var postgres = await postgresFixture.GetAsync();
        var rabbit = await rabbitFixture.GetAsync();
        var port = FreePort.Next();
        await using var appHost = TestProcess.Start("dotnet",
            [AppHostProcess.Assembly, "--data-dir", Directory.CreateTempSubdirectory("wave-dashboard-").FullName, "--urls", $"http://127.0.0.1:{port}"],
            new Dictionary<string, string?>
            {
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
                ["ConnectionStrings__redis"] = redis.ConnectionString,
                // Build and container records live in Postgres (migrated at start-up): a real one.
                ["ConnectionStrings__postgres"] = await postgres.CreateSchemaAsync(cancellation),
                // The Api and the Builder queue build jobs there (the Builder consumes the default queue).
                ["ConnectionStrings__rabbitmq"] = rabbit.ConnectionString,
            });
        using var dashboard = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        var resources = await DistributedAppHostTests.WaitAllRunningAsync(dashboard, appHost, cancellation);
        var api = resources.Single(r => r["name"]!.GetValue<string>() == "api")["endpoint"]!.GetValue<string>();
        using (var client = new HttpClient())
        {
            Assert.Contains("serviceInfo", await client.GetStringAsync($"{api}/service-info", cancellation), StringComparison.Ordinal);
        }

        // A service that dies is started again, on the same address, and its restart is counted.
        var builderPid = resources.Single(r => r["name"]!.GetValue<string>() == "builder")["processId"]!.GetValue<int>();
        await TestProcess.RunAsync("kill", ["-KILL", builderPid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        JsonNode? builder = null;
        while (DateTime.UtcNow < deadline)
        {
            builder = JsonNode.Parse(await dashboard.GetStringAsync("/api/resources?logLines=0", cancellation))!.AsArray()
                .Single(r => r!["name"]!.GetValue<string>() == "builder");
            if (builder!["restartCount"]!.GetValue<int>() == 1 && builder["state"]!.GetValue<string>() == "Running"
                && builder["processId"]!.GetValue<int>() != builderPid)
            {
                break;
            }
            await Task.Delay(250, cancellation);
        }
        Assert.True(builder!["restartCount"]!.GetValue<int>() == 1 && builder["state"]!.GetValue<string>() == "Running",
            $"the builder was not restarted: {builder.ToJsonString()}\n{appHost.Output}");

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"],
        });
        var page = await browser.NewPageAsync();
        await page.GotoAsync($"http://127.0.0.1:{port}/");

        foreach (var name in new[] { "redis", "postgres", "rabbitmq", "registry-proxy", "api", "builder" })
        {
            await page.WaitForSelectorAsync($"#resources tr[data-name='{name}'] td.state-Running", new() { Timeout = 10_000 });
        }
        var redisRow = await page.InnerTextAsync("#resources tr[data-name='redis']");
        Assert.Contains("ConnectionStrings__redis", redisRow, StringComparison.Ordinal);
        await page.WaitForSelectorAsync("#resources tr[data-name='builder'] td:nth-child(7):text-is('1')", new() { Timeout = 10_000 });
        var apiRow = await page.InnerTextAsync("#resources tr[data-name='api']");
        Assert.Contains("Healthy", apiRow, StringComparison.Ordinal);
        Assert.Contains(api, apiRow, StringComparison.Ordinal);

        // Selecting a resource shows its live log: the Api's own startup lines name the address it listens on.
        await page.ClickAsync("#resources tr[data-name='api']");
        await page.WaitForFunctionAsync($"document.getElementById('log').textContent.includes('{api}')", null, new() { Timeout = 10_000 });
        Assert.Equal("api", await page.InnerTextAsync("#log-name"));

        // The spans of the request above reach the AppHost's OTLP receiver and appear in the traces table.
        await page.WaitForSelectorAsync("#span-counts tr[data-service='api']", new() { Timeout = 20_000 });
        var spans = JsonNode.Parse(await dashboard.GetStringAsync("/api/traces", cancellation))!;
        Assert.Contains(spans["recent"]!.AsArray(), s => s!["service"]!.GetValue<string>() == "api");
    }
}
