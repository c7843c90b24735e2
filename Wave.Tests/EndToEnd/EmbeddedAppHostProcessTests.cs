using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

using Wave.Tests.AppHost;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.EndToEnd;

/// <summary>
/// The README's run command: <c>dotnet run --project Wave.AppHost</c> with nothing else configured starts DCP, Aspire's
/// dashboard and one Wave process that issues tokens and serves their pulls on one port; SIGTERM stops all of it.
/// Only the ports (and the data folder) are moved off the defaults, so that the test does not take a developer's.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed partial class EmbeddedAppHostProcessTests(RegistryFixture registryFixture, DockerEngineFixture dockerFixture)
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Dotnet_run_on_the_apphost_serves_tokens_and_pulls_on_one_port_and_sigterm_stops_everything()
    {
        var registries = await registryFixture.GetAsync();
        var port = FreePort.Next();
        var data = Directory.CreateTempSubdirectory("wave-embedded-apphost-").FullName;
        var marker = $"WAVE_APPHOST_TEST_RUN={Guid.NewGuid():N}";
        var environment = new Dictionary<string, string?>
        {
            [marker[..marker.IndexOf('=')]] = marker[(marker.IndexOf('=') + 1)..],
            // As on a developer's machine: no connection strings, no Wave settings from the test run's environment.
            ["ConnectionStrings__redis"] = null,
        };
        await using var appHost = TestProcess.Start("dotnet",
        [
            "run", "--project", Path.Combine(RepositoryRoot, "Wave.AppHost"), "--",
            $"--Wave:Port={port}", $"--Wave:DataDirectory={data}",
            $"--ASPNETCORE_URLS=http://127.0.0.1:{FreePort.Next()}",
            $"--ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL=http://127.0.0.1:{FreePort.Next()}",
            $"--ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL=http://127.0.0.1:{FreePort.Next()}",
        ], environment, RepositoryRoot);

        try
        {
            // The console names both addresses a user needs: the dashboard's login link and Wave's.
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4);
            while (!appHost.Output.Contains($"Wave is running: the API and the registry at http://localhost:{port}", StringComparison.Ordinal))
            {
                Assert.False(appHost.HasExited, "the AppHost exited:\n" + appHost.Output);
                Assert.True(DateTime.UtcNow < deadline, "Wave did not report running within 4 minutes:\n" + appHost.Output);
                await Task.Delay(250, Cancellation);
            }
            Assert.Matches(LoginLine(), appHost.Output);

            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health", Cancellation)).StatusCode);
            var info = JsonNode.Parse(await client.GetStringAsync("/service-info", Cancellation))!["serviceInfo"]!;
            Assert.Matches(@"^\d+\.\d+\.\d+", info["version"]!.GetValue<string>());

            var layer = TestLayer.Create(new Dictionary<string, string> { ["wave/apphost.txt"] = "embedded topology" });
            var answer = await client.PostContainerAsync(new
            {
                containerImage = registries.Images.DockerV2,
                containerConfig = new { cmd = new[] { "cat", "/wave/apphost.txt" }, layers = new[] { layer.AsDataLayer() } },
            });
            Assert.True(answer.Status == 200, answer.Text + "\n" + appHost.Output);
            // The registry is the same process and port as the API.
            Assert.StartsWith($"localhost:{port}/wt/", answer.TargetImage, StringComparison.Ordinal);
            var docker = await dockerFixture.GetAsync();
            Assert.Equal("embedded topology", (await docker.RunAsync("run", "--rm", "--network", "none", answer.TargetImage)).Trim());

            // DCP, the dashboard and Wave inherit the marker; after SIGTERM none of them may be left.
            var started = ProcessTable.Snapshot().Where(p => ProcessTable.Carries(p.Pid, marker)).ToList();
            foreach (var expected in new[] { "dcp", "Aspire.Dashboard", "Wave.Api" })
            {
                Assert.True(started.Any(p => p.CommandLine.Contains(expected, StringComparison.Ordinal)), $"no {expected} among {string.Join(", ", started)}");
            }
            await TestProcess.RunAsync("kill", ["-TERM", appHost.Id.ToString(CultureInfo.InvariantCulture)]);
            await appHost.WaitForExitAsync(TimeSpan.FromSeconds(60));
            var stopDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            List<ProcessEntry> left;
            while ((left = [.. started.Where(ProcessTable.IsAlive)]).Count > 0 && DateTime.UtcNow < stopDeadline)
            {
                await Task.Delay(250, Cancellation);
            }
            Assert.True(left.Count == 0, $"still running after the AppHost stopped: {string.Join(", ", left)}\n{appHost.Output}");
        }
        finally
        {
            await StopAsync(appHost, marker);
        }
        // The embedded state (SQLite) stays for the next run.
        Assert.True(File.Exists(Path.Combine(data, "wave", "wave.db")), $"no {Path.Combine(data, "wave", "wave.db")}");
    }

    /// <summary>
    /// After a failure too: SIGTERM as a user's Ctrl+C, then whatever still carries the marker is killed, so that a
    /// failed run leaves nothing behind (DCP would stop its processes only once it noticed the AppHost gone).
    /// </summary>
    private static async Task StopAsync(TestProcess appHost, string marker)
    {
        if (!appHost.HasExited)
        {
            await TestProcess.RunAsync("kill", ["-TERM", appHost.Id.ToString(CultureInfo.InvariantCulture)]);
            try
            {
                await appHost.WaitForExitAsync(TimeSpan.FromSeconds(60));
            }
            catch (TimeoutException)
            {
            }
        }
        foreach (var process in ProcessTable.Snapshot().Where(p => ProcessTable.Carries(p.Pid, marker)))
        {
            try
            {
                System.Diagnostics.Process.GetProcessById(process.Pid).Kill();
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
            }
        }
    }

    /// <summary>The repository root (the folder holding Wave.sln), found upwards from the test's output folder.</summary>
    internal static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Wave.sln")))
                {
                    return dir.FullName;
                }
            }
            throw new InvalidOperationException($"no Wave.sln above {AppContext.BaseDirectory}");
        }
    }

    [GeneratedRegex(@"Login to the dashboard at http://127\.0\.0\.1:\d+/login\?t=[0-9a-f]+")]
    private static partial Regex LoginLine();
}
