using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;

using Microsoft.Extensions.DependencyInjection;

using Wave.Tests.AppHost;
using Wave.Tests.Builds.EndToEnd;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.EndToEnd;

/// <summary>
/// The distributed topology as the AppHost runs it (Aspire.Hosting.Testing: DCP, the dashboard, Redis, Postgres and
/// RabbitMQ from their server binaries, the Api, the registry proxy and the builder as projects), walked through in
/// steps on one start: health and start order, an augmented pull by docker, a build pulled with its token, the
/// dashboard, and finally the stop, after which nothing the run started may be alive.
/// </summary>
[Collection(AppHostCollection.Name)]
[TestCaseOrderer(typeof(StepOrderer))]
public sealed class DistributedModeTests(DistributedAppHostFixture appHostFixture, RegistryFixture registryFixture, DockerEngineFixture dockerFixture)
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    private async Task<DistributedAppHost> AppHostAsync() => await appHostFixture.GetAsync(await registryFixture.GetAsync());

    [Fact, Step(1)]
    public async Task Every_resource_is_healthy_and_each_service_started_only_after_what_it_waits_for_was_healthy()
    {
        var appHost = await AppHostAsync();
        var model = appHost.App.Services.GetRequiredService<DistributedApplicationModel>();
        var events = appHost.Events;
        foreach (var name in DistributedAppHost.Resources)
        {
            var last = events.Last(e => e.Resource == name);
            Assert.True(last is { State: "Running", Health: "Healthy" }, $"{name} is {last.State}/{last.Health}: {appHost.Describe()}");
        }
        foreach (var project in model.Resources.OfType<ProjectResource>())
        {
            // Aspire shows a project Starting, then Waiting while what it waits for is not healthy, then starts it.
            var waited = events.LastOrDefault(e => e.Resource == project.Name && e.State == "Waiting").Sequence;
            Assert.True(waited > 0, $"{project.Name} never waited");
            var started = events.First(e => e.Resource == project.Name && e.Sequence > waited && e.State is "Starting" or "Running").Sequence;
            var waitedFor = project.Annotations.OfType<WaitAnnotation>().Select(w => w.Resource.Name).ToList();
            Assert.NotEmpty(waitedFor);
            foreach (var dependency in waitedFor)
            {
                var healthy = events.FirstOrDefault(e => e.Resource == dependency && e.Health == "Healthy").Sequence;
                Assert.True(healthy > 0 && healthy < started,
                    $"{project.Name} started (event {started}) before {dependency} was healthy (event {healthy})");
            }
        }

        // The services got the connection strings of Aspire's resources: the database resource's, not the server's.
        Assert.True(appHost.App.ResourceNotifications.TryGetCurrentState("api", out var api), "no state of the api");
        var environment = api.Snapshot.EnvironmentVariables.Where(v => v.Value is not null).ToDictionary(v => v.Name, v => v.Value!);
        Assert.Equal(await appHost.App.GetConnectionStringAsync("wave", Cancellation), environment["ConnectionStrings__wave"]);
        Assert.EndsWith(";Database=wave", environment["ConnectionStrings__wave"], StringComparison.Ordinal);
        Assert.Contains(",password=", environment["ConnectionStrings__redis"], StringComparison.Ordinal);
        Assert.StartsWith("amqp://", environment["ConnectionStrings__rabbitmq"], StringComparison.Ordinal);
        Assert.Equal(appHost.Endpoint("registry-proxy").ToString().TrimEnd('/'), environment["services__registry-proxy__http__0"].TrimEnd('/'));
    }

    [Fact, Step(2)]
    public async Task A_token_from_the_api_is_pulled_by_docker_through_the_registry_proxy_and_a_second_proxy_serves_it_from_redis()
    {
        var appHost = await AppHostAsync();
        var registries = await registryFixture.GetAsync();
        using var api = appHost.Client("api");
        var layer = TestLayer.Create(new Dictionary<string, string> { ["wave/distributed.txt"] = "served by the distributed topology" });
        var answer = await api.PostContainerAsync(new
        {
            containerImage = registries.Images.BasicPrivate,
            containerConfig = new { cmd = new[] { "cat", "/wave/distributed.txt" }, layers = new[] { layer.AsDataLayer() } },
        });
        Assert.True(answer.Status == 200, answer.Text);
        Assert.StartsWith($"{appHost.Endpoint("registry-proxy").Authority}/wt/", answer.TargetImage, StringComparison.Ordinal);

        // The Api does not serve /v2/ in this topology: the name only works through the proxy.
        using (var notHere = await api.GetAsync("/v2/", Cancellation))
        {
            Assert.Equal(System.Net.HttpStatusCode.NotFound, notHere.StatusCode);
        }

        var docker = await dockerFixture.GetAsync();
        Assert.Equal("served by the distributed topology", (await docker.RunAsync("run", "--rm", "--network", "none", answer.TargetImage)).Trim());

        // Another proxy instance, started after the first computed the manifest and sharing only the topology's Redis,
        // serves the same digest.
        var settings = WaveFixture.RegistrySettings(registries);
        settings["ConnectionStrings:redis"] = await appHost.App.GetConnectionStringAsync("redis", Cancellation);
        await using var secondProxy = await WaveTestHost.StartAsync(WaveRole.RegistryProxy, settings);
        using var firstProxy = appHost.Client("registry-proxy");
        var path = answer.TargetImage[(answer.TargetImage.IndexOf('/') + 1)..];
        var manifest = $"/v2/{path[..path.LastIndexOf(':')]}/manifests/{path[(path.LastIndexOf(':') + 1)..]}";
        Assert.Equal(await ManifestDigestAsync(firstProxy, manifest), await ManifestDigestAsync(secondProxy.Client, manifest));
    }

    [Fact, Step(3)]
    public async Task A_dockerfile_build_queued_by_the_api_is_built_by_the_builder_and_pulled_with_its_token()
    {
        var appHost = await AppHostAsync();
        var registries = await registryFixture.GetAsync();
        using var api = appHost.Client("api");
        var dockerfile = $"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN echo built-by-the-builder > /built.txt\nCMD [\"cat\", \"/built.txt\"]\n";
        var answer = await api.PostContainerAsync(new { containerFile = BuildApi.Base64(dockerfile) });
        Assert.True(answer.Status == 200, answer.Text);
        var buildId = answer.Body!["buildId"]!.GetValue<string>();
        Assert.StartsWith($"{appHost.Endpoint("registry-proxy").Authority}/wt/{answer.Token}/wave/builds:", answer.TargetImage, StringComparison.Ordinal);

        // Pulled straight away: the proxy holds the pull until the builder (another process, fed through RabbitMQ)
        // recorded the build as completed in Postgres.
        var docker = await dockerFixture.GetAsync();
        await docker.RunAsync(TimeSpan.FromMinutes(6), "pull", answer.TargetImage);
        Assert.Equal("built-by-the-builder", (await docker.RunAsync("run", "--rm", "--network", "none", answer.TargetImage)).Trim());
        var status = await api.StatusAsync(buildId);
        Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());
        Assert.True(status["succeeded"]!.GetValue<bool>());
        Assert.Contains("RUN echo built-by-the-builder > /built.txt", await api.LogsAsync(buildId), StringComparison.Ordinal);
    }

    [Fact, Step(4)]
    public async Task The_dashboard_shows_every_resource_running_and_healthy_and_the_trace_of_a_container_request_and_its_pull()
    {
        var chromium = Requirements.Binary("chromium", "chromium");
        var appHost = await AppHostAsync();
        var registries = await registryFixture.GetAsync();

        // A container request and the pull of its image, sent as a workflow engine tracing its tasks sends them: the
        // request and the manifest GET carry traceparents of one trace; docker then pulls the layers.
        var traceId = System.Diagnostics.ActivityTraceId.CreateRandom().ToHexString();
        string Traceparent() => $"00-{traceId}-{System.Diagnostics.ActivitySpanId.CreateRandom().ToHexString()}-01";
        using var api = appHost.Client("api");
        using var post = new HttpRequestMessage(HttpMethod.Post, "/v1alpha2/container")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { containerImage = registries.Images.DockerV2 }),
        };
        post.Headers.Add("traceparent", Traceparent());
        var answer = await WaveApi.ReadAsync(await api.SendAsync(post, Cancellation));
        Assert.True(answer.Status == 200, answer.Text);
        var path = answer.TargetImage[(answer.TargetImage.IndexOf('/') + 1)..];
        using var proxy = appHost.Client("registry-proxy");
        using var manifest = new HttpRequestMessage(HttpMethod.Get, $"/v2/{path[..path.LastIndexOf(':')]}/manifests/{path[(path.LastIndexOf(':') + 1)..]}");
        manifest.Headers.Add("traceparent", Traceparent());
        manifest.Headers.Accept.ParseAdd("application/vnd.docker.distribution.manifest.v2+json");
        using (var pulled = await proxy.SendAsync(manifest, Cancellation))
        {
            Assert.True(pulled.IsSuccessStatusCode, $"GET manifest: {pulled.StatusCode}");
        }
        await (await dockerFixture.GetAsync()).RunAsync("pull", answer.TargetImage);

        using var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new Microsoft.Playwright.BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        var page = await browser.NewPageAsync();
        // The login link the AppHost prints, with this run's browser token.
        await page.GotoAsync($"{appHost.DashboardUrl}/login?t={appHost.BrowserToken}");
        foreach (var name in DistributedAppHost.Resources)
        {
            // A row per resource, named in its first cell ("Project: api"); its state cell says Running, with the
            // success icon only while its health checks pass (an unhealthy one reads "Running (Unhealthy)").
            var row = page.Locator("tr.resource-row").Filter(new() { Has = page.Locator($"td[col-index='1'][title$=': {name}']") });
            await Microsoft.Playwright.Assertions.Expect(row.Locator("td[col-index='2']")).ToHaveAttributeAsync("title", "Running", new() { Timeout = 60_000 });
            Assert.Contains("var(--success)", await row.Locator("td[col-index='2'] svg.severity-icon").GetAttributeAsync("style") ?? "", StringComparison.Ordinal);
        }

        // The trace: the Api's spans of the request and the proxy's of the pull, received from the services over OTLP.
        var found = false;
        for (var attempt = 0; attempt < 30 && !found; attempt++)
        {
            await page.GotoAsync($"{appHost.DashboardUrl}/traces/detail/{traceId}");
            try
            {
                await page.Locator("div.resource-name", new() { HasTextString = "registry-proxy" }).First.WaitForAsync(new() { Timeout = 2_000 });
                await page.Locator("div.resource-name", new() { HasTextString = "api" }).First.WaitForAsync(new() { Timeout = 2_000 });
                found = true;
            }
            catch (TimeoutException)
            {
            }
        }
        Assert.True(found, $"the dashboard shows no trace {traceId} with spans of the api and the registry-proxy:\n{await page.InnerTextAsync("body")}");
        var resources = await page.Locator("div.resource-name").AllInnerTextsAsync();
        Assert.Equal(["api", "registry-proxy"], resources.Select(r => r.Trim()).Distinct().Order(StringComparer.Ordinal));
    }

    [Fact, Step(9)]
    public async Task Stopping_the_apphost_leaves_nothing_it_started_running_and_keeps_the_data()
    {
        var appHost = await AppHostAsync();
        // DCP, the dashboard, the three services, the four servers (postgres with its own children) at least.
        var recorded = appHost.StartedProcesses;
        foreach (var expected in new[] { "dcp", "Aspire.Dashboard", "Wave.Api", "Wave.RegistryProxy", "Wave.Builder", "redis-server", "postgres", "beam.smp", "epmd" })
        {
            Assert.True(recorded.Any(p => p.CommandLine.Contains(expected, StringComparison.Ordinal)),
                $"no {expected} among the processes of the run: {string.Join(", ", recorded)}");
        }

        var left = await appHost.StopAsync();

        Assert.True(left.Count == 0, $"still running after the AppHost stopped: {string.Join(", ", left)}");
        Assert.True(File.Exists(Path.Combine(appHost.DataDirectory, "postgres", "cluster", "PG_VERSION")));
        Assert.True(Directory.Exists(Path.Combine(appHost.DataDirectory, "redis", "appendonlydir")));
        Assert.True(Directory.Exists(Path.Combine(appHost.DataDirectory, "rabbitmq", "mnesia")));
    }

    private static async Task<string> ManifestDigestAsync(HttpClient client, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, path);
        request.Headers.Accept.ParseAdd("application/vnd.docker.distribution.manifest.v2+json");
        using var response = await client.SendAsync(request, Cancellation);
        Assert.True(response.IsSuccessStatusCode, $"HEAD {path}: {response.StatusCode}");
        return response.Headers.GetValues("Docker-Content-Digest").Single();
    }
}
