using System.Text.Json.Nodes;

using Wave.Core.Scans;
using Wave.Tests.Builds.EndToEnd;
using Wave.Tests.Contract;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Records;

namespace Wave.Tests.Scans;

/// <summary>
/// scanMode through the container API as nf-wave sends it, end to end: a real Dockerfile build (buildah) whose image
/// carries a vulnerable package, pushed to the suite's registry, scanned against the test's OSV database, and pulled
/// with skopeo. A required scan that finds a severity the request does not allow holds the container at SCANNING, then
/// ends it DONE with succeeded false and the findings as the reason, and the pull is refused with that reason; the same
/// image asked for with async, or with the severity allowed, is released.
/// </summary>
public sealed class RequiredScanTests(RegistryFixture registryFixture) : IAsyncDisposable
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private readonly string _work = Path.Combine(Path.GetTempPath(), "wave-scan-builds-" + Guid.NewGuid().ToString("N")[..8]);

    private async Task<WaveTestHost> StartAsync(TestRegistries registries)
    {
        var settings = BuildHostFixture.Settings(registries, _work);
        settings[ScanOptions.DatabaseSetting] = TestOsvDatabase.WriteFolder(Path.Combine(_work, "osv"));
        return await WaveTestHost.StartAsync(WaveRole.Embedded, settings);
    }

    /// <summary>A Debian-like image built from busybox whose dpkg database lists the vulnerable libssl3 of the test database.</summary>
    private static string Dockerfile(TestRegistries registries) => BuildApi.Nonce() + $$"""
        FROM {{registries.Images.DockerV2}}
        RUN mkdir -p /var/lib/dpkg /etc && \
            printf 'Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n\nPackage: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n' > /var/lib/dpkg/status && \
            printf 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' > /etc/os-release
        """;

    private static async Task<(List<string> Seen, ClientContainerStatus Final, JsonNode Body)> FollowStatusAsync(WaveTestHost wave, string requestId)
    {
        var seen = new List<string>();
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (true)
        {
            var answer = await wave.GetAsync($"/v1alpha2/container/{requestId}/status");
            Assert.True(answer.Status == 200, answer.Text);
            var status = ClientJson.ParseContainerStatus(answer.Text);
            if (seen.Count == 0 || seen[^1] != status.Status)
            {
                seen.Add(status.Status);
            }
            if (status.Status == "DONE")
            {
                return (seen, status, answer.Body!);
            }
            Assert.True(DateTime.UtcNow < deadline, $"still {status.Status}: {answer.Text}");
            await Task.Delay(50, Token);
        }
    }

    private static async Task<string> SkopeoInspectFailureAsync(string image)
    {
        var e = await Assert.ThrowsAsync<CommandFailedException>(() => RecordsTestSupport.SkopeoAsync("inspect", "--tls-verify=false", $"docker://{image}"));
        return e.CommandOutput;
    }

    [Fact]
    public async Task A_required_scan_that_finds_a_disallowed_severity_blocks_the_pull_and_async_does_not()
    {
        var registries = await registryFixture.GetAsync();
        await using var wave = await StartAsync(registries);
        var nfWave = new NfWaveClient(wave.Client);
        var dockerfile = BuildApi.Base64(Dockerfile(registries));

        // required, no levels allowed: nf-wave's request, as it sends it.
        var required = await nfWave.SendRequestAsync(new NfWaveRequest { ContainerFile = dockerfile, ScanMode = "required" });
        Assert.Matches("^sc-[0-9a-f]{16}_1$", required.Response.ScanId);
        Assert.Null(required.Response.Succeeded);
        var (seen, final, body) = await FollowStatusAsync(wave, required.Response.RequestId!);
        Assert.Equal("SCANNING", seen[^2]); // held after the build, while the scan ran
        Assert.False(final.Succeeded);
        Assert.Contains($"the security scan {required.Response.ScanId} found vulnerabilities of a severity the request does not allow: 1 MEDIUM", final.Reason);
        Assert.Equal($"{wave.BaseAddress.ToString().TrimEnd('/')}/view/scans/{required.Response.ScanId}", final.DetailsUri);
        Assert.Equal(1, body["vulnerabilities"]!["MEDIUM"]!.GetValue<int>());
        // nf-wave gives up on it with the reason.
        var refusal = await Assert.ThrowsAsync<ClientProtocolException>(() => nfWave.AwaitReadyAsync(required, TimeSpan.FromMinutes(1)));
        Assert.Contains("found vulnerabilities of a severity the request does not allow", refusal.Message);
        // And a pull of it is refused, with the reason, by a real client.
        var pull = await SkopeoInspectFailureAsync(required.Response.TargetImage);
        Assert.Contains("this container is not released", pull);
        Assert.Contains("1 MEDIUM", pull);
        var scan = await wave.GetAsync($"/v1alpha1/scans/{required.Response.ScanId}");
        Assert.Equal(("SUCCEEDED", "DEBIAN-CVE-2023-5678", "libssl3"), (scan.Body!["status"]!.GetValue<string>(),
            scan.Body["vulnerabilities"]![0]!["id"]!.GetValue<string>(), scan.Body["vulnerabilities"]![0]!["pkgName"]!.GetValue<string>()));
        Assert.Equal(required.Response.BuildId, scan.Body["buildId"]!.GetValue<string>());
        // The build's record and page name the scan of its image.
        var build = await wave.GetAsync($"/v1alpha1/builds/{required.Response.BuildId}");
        Assert.Equal(required.Response.ScanId, build.Body!["scanId"]?.GetValue<string>());
        var page = await wave.GetAsync($"/view/builds/{required.Response.BuildId}");
        Assert.Contains($"<a href=\"/view/scans/{required.Response.ScanId}\">{required.Response.ScanId}</a>", page.Text, StringComparison.Ordinal);

        // The same image with async: the build and the scan are shared, and nothing holds the container back.
        var asynchronous = await nfWave.SendRequestAsync(new NfWaveRequest { ContainerFile = dockerfile, ScanMode = "async" });
        Assert.Equal(required.Response.ScanId, asynchronous.Response.ScanId);
        await nfWave.AwaitReadyAsync(asynchronous, TimeSpan.FromMinutes(1));
        var asyncStatus = await FollowStatusAsync(wave, asynchronous.Response.RequestId!);
        Assert.True(asyncStatus.Final.Succeeded);
        var inspected = JsonNode.Parse(await RecordsTestSupport.SkopeoAsync("inspect", "--tls-verify=false", $"docker://{asynchronous.Response.TargetImage}"))!;
        Assert.Equal("amd64", inspected["Architecture"]!.GetValue<string>());

        // required with MEDIUM allowed: released, with the findings counted.
        var allowed = await nfWave.SendRequestAsync(new NfWaveRequest { ContainerFile = dockerfile, ScanMode = "required", ScanLevels = ["low", "MEDIUM"] });
        await nfWave.AwaitReadyAsync(allowed, TimeSpan.FromMinutes(1));
        var allowedStatus = await FollowStatusAsync(wave, allowed.Response.RequestId!);
        Assert.True(allowedStatus.Final.Succeeded);
        Assert.Equal(1, allowedStatus.Body["vulnerabilities"]!["MEDIUM"]!.GetValue<int>());
        Assert.Contains("only of allowed severities", allowedStatus.Final.Reason);
        await RecordsTestSupport.SkopeoAsync("inspect", "--tls-verify=false", $"docker://{allowed.Response.TargetImage}");
    }

    [Fact]
    public async Task A_required_scan_of_an_augmented_image_holds_its_pulls_until_it_passed()
    {
        var registries = await registryFixture.GetAsync();
        var vulnerable = await ScanTestImages.PushAsync(registries.Plain, "scans/required-debian", "1.0", ScanTestImages.DebianCondaLayers());
        await using var wave = await StartAsync(registries);
        var nfWave = new NfWaveClient(wave.Client);

        var held = await nfWave.SendRequestAsync(new NfWaveRequest { ContainerImage = vulnerable, ScanMode = "required", ScanLevels = ["LOW", "MEDIUM", "HIGH"] });
        var (_, final, body) = await FollowStatusAsync(wave, held.Response.RequestId!);
        Assert.False(final.Succeeded);
        Assert.Contains("1 CRITICAL", final.Reason);
        Assert.Contains("allowed scanLevels: LOW, MEDIUM, HIGH", final.Reason);
        Assert.Equal(new Dictionary<string, int> { ["CRITICAL"] = 1, ["HIGH"] = 1, ["MEDIUM"] = 2, ["LOW"] = 1 },
            body["vulnerabilities"]!.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<int>()));
        var pull = await wave.PullManifestAsync(held.Response.TargetImage);
        Assert.Equal(403, pull.Status);
        Assert.Contains("DENIED", pull.Body);
        Assert.Contains("1 CRITICAL", pull.Body);

        // An image without findings passes a required scan with no levels allowed.
        var clean = await nfWave.SendRequestAsync(new NfWaveRequest { ContainerImage = registries.Images.Oci, ScanMode = "required" });
        await nfWave.AwaitReadyAsync(clean, TimeSpan.FromMinutes(1));
        Assert.Equal(200, (await wave.PullManifestAsync(clean.Response.TargetImage)).Status);

        // A malformed mode or level is a 400 naming the field.
        var (status, text) = await nfWave.PostAsync(new NfWaveRequest { ContainerImage = vulnerable, ScanMode = "sometimes" });
        Assert.Equal(400, status);
        Assert.Contains("scanMode", text);
        (status, text) = await nfWave.PostAsync(new NfWaveRequest { ContainerImage = vulnerable, ScanMode = "required", ScanLevels = ["SEVERE"] });
        Assert.Equal(400, status);
        Assert.Contains("scanLevels", text);
    }

    public async ValueTask DisposeAsync()
    {
        if (Directory.Exists(_work))
        {
            try
            {
                await TestProcess.RunAsync("buildah", ["--root", Path.Combine(_work, "storage"), "--runroot", Path.Combine(_work, "run"), "--storage-driver", "vfs", "rmi", "--all", "--force"], TimeSpan.FromMinutes(2));
            }
            catch (Exception)
            {
            }
            try
            {
                Directory.Delete(_work, recursive: true);
            }
            catch (Exception)
            {
            }
        }
    }
}
