using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

using Microsoft.Extensions.DependencyInjection;

using Wave.Api.Apis;
using Wave.Core.Names;
using Wave.Core.Registry;
using Wave.Core.Scans;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Persistence;
using Wave.Tests.Records;

namespace Wave.Tests.Scans;

/// <summary>
/// Scans of images in the suite's real registries by a Wave host as it runs (embedded, and on Postgres): the SBOM of
/// test images whose layers carry a dpkg database, an apk database, conda-meta records and Python metadata; the
/// findings against an OSV database the test writes; the record, SPDX, log and page endpoints.
/// </summary>
public sealed class ScanEndToEndTests(RegistryFixture registryFixture, PostgresFixture postgresFixture)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static Dictionary<string, string?> Settings(TestRegistries registries, Dictionary<string, string?>? extra = null)
    {
        var database = TestOsvDatabase.WriteTarGz(Path.Combine(Directory.CreateTempSubdirectory("wave-osv-").FullName, "osv.tar.gz"));
        var settings = WaveFixture.RegistrySettings(registries);
        settings[ScanOptions.DatabaseSetting] = database;
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }
        return settings;
    }

    private static ScanSubject Subject(string image, ContainerPlatform? platform = null, IRegistryCredentialsProvider? credentials = null, ScanOrigin? origin = null) =>
        new(ImageReference.Parse(image), platform ?? ContainerPlatform.LinuxAmd64, credentials, origin ?? ScanOrigin.None);

    /// <summary>Polls <c>GET /v1alpha1/scans/{id}</c> until the scan is done.</summary>
    private static async Task<JsonNode> WaitForScanAsync(WaveTestHost wave, string scanId)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            var answer = await wave.GetAsync($"/v1alpha1/scans/{scanId}");
            Assert.True(answer.Status == 200, answer.Text);
            if (answer.Body!["status"]!.GetValue<string>() != ScanStatus.Pending)
            {
                return answer.Body;
            }
            Assert.True(DateTime.UtcNow < deadline, $"scan {scanId} still pending: {answer.Text}");
            await Task.Delay(100, Token);
        }
    }

    private static Dictionary<string, string> Findings(JsonNode record) =>
        record["vulnerabilities"]!.AsArray().ToDictionary(v => v!["id"]!.GetValue<string>(),
            v => $"{v!["pkgName"]} {v["severity"]} {v["fixedVersion"]}");

    private static Dictionary<string, string> Expected(IReadOnlyDictionary<string, (string Package, string Severity, string Fixed)> expected) =>
        expected.ToDictionary(e => e.Key, e => $"{e.Value.Package} {e.Value.Severity} {e.Value.Fixed}");

    [Fact]
    public async Task A_scan_lists_the_packages_of_every_layer_and_finds_the_advisories_that_affect_them()
    {
        var registries = await registryFixture.GetAsync();
        var debian = await ScanTestImages.PushAsync(registries.Plain, "scans/debian-conda", "1.0", ScanTestImages.DebianCondaLayers());
        var alpine = await ScanTestImages.PushAsync(registries.Plain, "scans/alpine", "3.18", ScanTestImages.AlpineLayers());
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, Settings(registries));
        var scans = wave.Services.GetRequiredService<ContainerScanService>();

        var scanId = await scans.StartScanAsync(Subject(debian, origin: new ScanOrigin(RequestId: "3f0c1d2e3f4a5b6c7d8e9f01")), ScanMode.Required, Token);
        var alpineId = await scans.StartScanAsync(Subject(alpine), ScanMode.Async, Token);
        Assert.Matches("^sc-[0-9a-f]{16}_1$", scanId);
        // The same image asked for again shares the scan.
        Assert.Equal(scanId, await scans.StartScanAsync(Subject(debian), ScanMode.Async, Token));
        Assert.Null(await scans.StartScanAsync(Subject(debian), ScanMode.None, Token));

        var record = await WaitForScanAsync(wave, scanId!);
        Assert.True(record["status"]!.GetValue<string>() == ScanStatus.Succeeded, record.ToJsonString());
        Assert.Equal((scanId, debian, "linux/amd64", "3f0c1d2e3f4a5b6c7d8e9f01", 0, 9),
            (record["id"]!.GetValue<string>(), record["containerImage"]!.GetValue<string>(), record["platform"]!.GetValue<string>(),
             record["requestId"]!.GetValue<string>(), record["exitCode"]!.GetValue<int>(), record["packageCount"]!.GetValue<int>()));
        Assert.Matches(@"^\d+\.\d{9}$", record["duration"]!.ToJsonString()); // seconds, as the server writes a duration
        Assert.Equal(Expected(TestOsvDatabase.ExpectedDebianConda), Findings(record));
        Assert.Equal(new Dictionary<string, int> { ["CRITICAL"] = 1, ["HIGH"] = 1, ["MEDIUM"] = 2, ["LOW"] = 1 },
            record["summary"]!.Deserialize<Dictionary<string, int>>());
        Assert.Contains("each matching its digest", record["logs"]!.GetValue<string>());

        // The levels a request allows decide.
        var scan = (await scans.GetScanAsync(scanId!, Token))!;
        Assert.False(ScanPolicy.Evaluate(scan, null).Passed);
        Assert.Equal(["CRITICAL", "HIGH"], ScanPolicy.Evaluate(scan, ["LOW", "MEDIUM"]).DisallowedLevels);
        Assert.True(ScanPolicy.Evaluate(scan, ScanLevel.Allowable.ToList()).Passed);

        // The SBOM lists what the layers carry, with purls.
        using var spdxResponse = await wave.Client.GetAsync($"/v1alpha1/scans/{scanId}/spdx", Token);
        Assert.Equal(HttpStatusCode.OK, spdxResponse.StatusCode);
        Assert.Equal("application/json", spdxResponse.Content.Headers.ContentType!.MediaType);
        Assert.Equal($"attachment; filename=\"spdx-{scanId}.json\"", spdxResponse.Content.Headers.ContentDisposition?.ToString()
            ?? spdxResponse.Headers.GetValues("Content-Disposition").Single());
        var spdx = JsonNode.Parse(await spdxResponse.Content.ReadAsStringAsync(Token))!;
        Assert.Equal("SPDX-2.3", spdx["spdxVersion"]!.GetValue<string>());
        Assert.Equal(debian, spdx["name"]!.GetValue<string>());
        var purls = spdx["packages"]!.AsArray().SelectMany(p => p!["externalRefs"]?.AsArray() ?? []).Select(r => r!["referenceLocator"]!.GetValue<string>()).ToList();
        Assert.Contains("pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12", purls);
        Assert.Contains("pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12", purls);
        Assert.Contains("pkg:conda/numpy@1.26.4?build=py311h64a7726_0&channel=conda-forge&subdir=linux-64", purls);
        Assert.Contains("pkg:conda/openssl@3.2.1?build=hd590300_0&channel=conda-forge&subdir=linux-64", purls);
        Assert.Contains("pkg:pypi/requests@2.31.0", purls);
        Assert.DoesNotContain(purls, p => p.Contains("urllib3", StringComparison.Ordinal) || p.Contains("jinja2", StringComparison.Ordinal) || p.Contains("libgcrypt", StringComparison.Ordinal));
        var imageDigest = (await RecordsTestSupport.SkopeoAsync("inspect", "--tls-verify=false", "--format", "{{.Digest}}", $"docker://{debian}")).Trim();
        Assert.Contains($"pkg:oci/debian-conda@{imageDigest.Replace(":", "%3A", StringComparison.Ordinal)}?arch=amd64&repository_url={registries.Plain.Host}/scans/debian-conda", purls);

        var alpineRecord = await WaitForScanAsync(wave, alpineId!);
        Assert.Equal(Expected(TestOsvDatabase.ExpectedAlpine), Findings(alpineRecord));
        var alpineSpdx = await wave.Client.GetStringAsync($"/v1alpha1/scans/{alpineId}/spdx", Token);
        Assert.Contains("pkg:apk/alpine/musl@1.2.4-r1?arch=x86_64&distro=3.18.4", alpineSpdx);
        Assert.Contains("pkg:pypi/pyyaml@6.0.1", alpineSpdx);

        // The log, and the page for people.
        using var logs = await wave.Client.GetAsync($"/v1alpha1/scans/{scanId}/logs", Token);
        Assert.Equal(HttpStatusCode.OK, logs.StatusCode);
        Assert.Contains("packages: 9 (dpkg 4, apk 0, conda 4, python 1)", await logs.Content.ReadAsStringAsync(Token));
        using var page = await wave.Client.GetAsync($"/view/scans/{scanId}", Token);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync(Token);
        Assert.Contains("SUCCEEDED: 5 vulnerabilities found", html);
        Assert.Contains("<td>libssl3</td><td>3.0.11-1~deb12u2</td><td>3.0.13-1~deb12u1</td>", html);
        Assert.Contains("<a href=\"https://security-tracker.debian.org/tracker/CVE-2023-5678\" rel=\"noreferrer\">DEBIAN-CVE-2023-5678</a>", html);
        Assert.Contains("<a href=\"/view/containers/3f0c1d2e3f4a5b6c7d8e9f01\">", html);
        Assert.Contains($"<a href=\"/v1alpha1/scans/{scanId}/spdx\">SPDX JSON</a>", html);
    }

    [Fact]
    public async Task Platforms_compression_and_private_registries_are_scanned_and_failures_say_why()
    {
        var registries = await registryFixture.GetAsync();
        // A zstd layer (compressed by the zstd tool) in an OCI image.
        var zstd = Requirements.Binary("zstd", "zstd");
        var dir = Directory.CreateTempSubdirectory("wave-zstd-").FullName;
        var tarPath = Path.Combine(dir, "layer.tar");
        await File.WriteAllBytesAsync(tarPath, ScanTestImages.Tar(ScanTestImages.AlpineLayers()[0]), Token);
        await TestProcess.RunAsync(zstd, ["-q", "-19", tarPath, "-o", tarPath + ".zst"]);
        var layer = await File.ReadAllBytesAsync(tarPath + ".zst", Token);
        using (var pusher = new RegistryPusher(registries.Plain))
        {
            var layerDigest = await pusher.PushBlobAsync("scans/zstd", layer, Token);
            var config = JsonSerializer.SerializeToUtf8Bytes(new { architecture = "amd64", os = "linux", rootfs = new { type = "layers", diff_ids = new[] { RegistryPusher.Sha256(await File.ReadAllBytesAsync(tarPath, Token)) } } });
            var configDigest = await pusher.PushBlobAsync("scans/zstd", config, Token);
            var manifest = JsonSerializer.SerializeToUtf8Bytes(new
            {
                schemaVersion = 2,
                mediaType = "application/vnd.oci.image.manifest.v1+json",
                config = new { mediaType = "application/vnd.oci.image.config.v1+json", size = config.Length, digest = configDigest },
                layers = new[] { new { mediaType = "application/vnd.oci.image.layer.v1.tar+zstd", size = layer.Length, digest = layerDigest } },
            });
            await pusher.PushManifestAsync("scans/zstd", "1", manifest, "application/vnd.oci.image.manifest.v1+json", Token);
        }
        // Only the Basic registry's login is configured: the Bearer one comes with the request.
        var settings = Settings(registries);
        foreach (var key in settings.Keys.Where(k => k.StartsWith("Wave:Registries:1:", StringComparison.Ordinal)).ToList())
        {
            settings.Remove(key);
        }
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, settings);
        var scans = wave.Services.GetRequiredService<ContainerScanService>();
        var configured = wave.Services.GetRequiredService<IRegistryCredentialsProvider>();

        var zstdScan = await WaitForScanAsync(wave, (await scans.StartScanAsync(Subject($"{registries.Plain.Host}/scans/zstd:1"), ScanMode.Async, Token))!);
        Assert.Equal((ScanStatus.Succeeded, 3), (zstdScan["status"]!.GetValue<string>(), zstdScan["packageCount"]!.GetValue<int>()));

        // An index: the platform's manifest is the one read.
        var arm = await WaitForScanAsync(wave, (await scans.StartScanAsync(Subject(registries.Images.MultiArch, ContainerPlatform.LinuxArm64), ScanMode.Async, Token))!);
        Assert.Equal((ScanStatus.Succeeded, "linux/arm64", 0), (arm["status"]!.GetValue<string>(), arm["platform"]!.GetValue<string>(), arm["packageCount"]!.GetValue<int>()));
        Assert.Contains("the linux/arm64 manifest is sha256:", arm["logs"]!.GetValue<string>());

        var basic = await WaitForScanAsync(wave, (await scans.StartScanAsync(Subject(registries.Images.BasicPrivate), ScanMode.Async, Token))!);
        Assert.Equal(ScanStatus.Succeeded, basic["status"]!.GetValue<string>());
        var user = new SingleRegistryCredentials(registries.Bearer.Host, RegistryFixture.BearerUser, configured);
        var bearer = await WaitForScanAsync(wave, (await scans.StartScanAsync(Subject(registries.Images.BearerPrivate, credentials: user), ScanMode.Async, Token))!);
        Assert.Equal(ScanStatus.Succeeded, bearer["status"]!.GetValue<string>());

        // Refused credentials and a missing image fail with the reason, never the password; they have no SBOM.
        var wrong = new SingleRegistryCredentials(registries.Bearer.Host, new RegistryCredentials(RegistryFixture.BearerUser.Username, "wrong-s3cret-pw"), configured);
        var refusedId = (await scans.StartScanAsync(Subject((ImageReference.Parse(registries.Images.BearerPrivate) with { Tag = "refused", Digest = null }).ToString(), credentials: wrong), ScanMode.Async, Token))!;
        var refused = await WaitForScanAsync(wave, refusedId);
        Assert.Equal((ScanStatus.Failed, 1), (refused["status"]!.GetValue<string>(), refused["exitCode"]!.GetValue<int>()));
        Assert.Contains($"registry {registries.Bearer.Host} refused access", refused["logs"]!.GetValue<string>());
        Assert.DoesNotContain("wrong-s3cret-pw", refused.ToJsonString());
        var missingId = (await scans.StartScanAsync(Subject($"{registries.Plain.Host}/scans/nothing:here"), ScanMode.Async, Token))!;
        var missing = await WaitForScanAsync(wave, missingId);
        Assert.Equal(ScanStatus.Failed, missing["status"]!.GetValue<string>());
        Assert.Contains("failed:", missing["logs"]!.GetValue<string>());
        var noSbom = await wave.GetAsync($"/v1alpha1/scans/{missingId}/spdx");
        Assert.Equal(404, noSbom.Status);
        Assert.Contains("did not complete", noSbom.Text);
        // A failed scan is made again, as the next attempt.
        var again = await scans.StartScanAsync(Subject($"{registries.Plain.Host}/scans/nothing:here"), ScanMode.Async, Token);
        Assert.Equal(missingId[..^1] + "2", again);
        using var failedPage = await wave.Client.GetAsync($"/view/scans/{missingId}", Token);
        Assert.Contains("<span class=\"status bad\">FAILED</span>", await failedPage.Content.ReadAsStringAsync(Token));

        // Ids: malformed is a 400 naming the field, unknown a 404.
        var bad = await wave.GetAsync("/v1alpha1/scans/bd-0123456789abcdef_1");
        Assert.Equal(400, bad.Status);
        Assert.Contains("scanId", bad.Text);
        Assert.Equal(404, (await wave.GetAsync("/v1alpha1/scans/sc-ffffffffffffffff_1")).Status);
        using var unknownPage = await wave.Client.GetAsync("/view/scans/sc-ffffffffffffffff_1", Token);
        Assert.Equal(HttpStatusCode.NotFound, unknownPage.StatusCode);
    }

    [Fact]
    public async Task Layer_bytes_that_do_not_match_their_digest_fail_the_scan_and_make_no_SBOM()
    {
        var registries = await registryFixture.GetAsync();
        // The manifest names one layer; the registry serves another, valid gzip tar with a dpkg database in it.
        var named = ScanTestImages.Gzip(ScanTestImages.Tar([new LayerEntry.File("etc/motd", "hello\n")]));
        var served = ScanTestImages.Gzip(ScanTestImages.Tar([new LayerEntry.File("var/lib/dpkg/status", ScanTestImages.DpkgStatus)]));
        var config = JsonSerializer.SerializeToUtf8Bytes(new { architecture = "amd64", os = "linux", rootfs = new { type = "layers", diff_ids = Array.Empty<string>() } });
        var manifest = JsonSerializer.SerializeToUtf8Bytes(new
        {
            schemaVersion = 2,
            mediaType = "application/vnd.docker.distribution.manifest.v2+json",
            config = new { mediaType = "application/vnd.docker.container.image.v1+json", size = config.Length, digest = RegistryPusher.Sha256(config) },
            layers = new[] { new { mediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip", size = named.Length, digest = RegistryPusher.Sha256(named) } },
        });
        await using var upstream = await ScriptedHttpServer.StartAsync(async context =>
        {
            var path = context.Request.Path.Value ?? "";
            byte[]? body = path switch
            {
                "/v2/" => "{}"u8.ToArray(),
                "/v2/lying/image/manifests/v1" => manifest,
                _ when path == $"/v2/lying/image/blobs/{RegistryPusher.Sha256(config)}" => config,
                _ when path == $"/v2/lying/image/blobs/{RegistryPusher.Sha256(named)}" => served,
                _ => null,
            };
            if (body is null)
            {
                context.Response.StatusCode = 404;
                return;
            }
            context.Response.ContentType = path.Contains("/manifests/", StringComparison.Ordinal) ? "application/vnd.docker.distribution.manifest.v2+json" : "application/octet-stream";
            context.Response.ContentLength = body.Length;
            await context.Response.Body.WriteAsync(body);
        });
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, Settings(registries));
        var scans = wave.Services.GetRequiredService<ContainerScanService>();

        var scanId = (await scans.StartScanAsync(Subject($"{upstream.Host}/lying/image:v1"), ScanMode.Required, Token))!;
        var record = await WaitForScanAsync(wave, scanId);
        Assert.Equal(ScanStatus.Failed, record["status"]!.GetValue<string>());
        Assert.Contains($"layer {RegistryPusher.Sha256(named)} does not match its digest (its bytes hash to {RegistryPusher.Sha256(served)})", record["logs"]!.GetValue<string>());
        Assert.Empty(record["vulnerabilities"]!.AsArray());
        Assert.Null(await scans.GetSpdxAsync(scanId, Token));
        Assert.False(ScanPolicy.Evaluate((await scans.GetScanAsync(scanId, Token))!, ScanLevel.Allowable.ToList()).Passed);
    }

    [Fact]
    public async Task Without_a_database_a_request_for_a_scan_is_refused_with_501_naming_the_setting()
    {
        var registries = await registryFixture.GetAsync();
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, WaveFixture.RegistrySettings(registries));
        var scans = wave.Services.GetRequiredService<ContainerScanService>();

        Assert.False(scans.Enabled);
        Assert.Null(scans.RefusalFor(ScanMode.None));
        Assert.Null(ScansApi.RefuseUnlessScansEnabled(ScanMode.None, scans));
        var refusal = ScansApi.RefuseUnlessScansEnabled(ScanMode.Required, scans);
        Assert.NotNull(refusal);
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext { RequestServices = wave.Services };
        context.Response.Body = new MemoryStream();
        await refusal.ExecuteAsync(context);
        Assert.Equal(501, context.Response.StatusCode);
        var body = System.Text.Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());
        Assert.Contains(ScanOptions.DatabaseSetting, body);
        Assert.Contains("scanMode", body);
        Assert.Contains(ScanOptions.DatabaseSetting, Assert.Throws<InvalidOperationException>(() =>
            scans.StartScanAsync(Subject(registries.Images.DockerV2), ScanMode.Async, Token).GetAwaiter().GetResult()).Message);
        Assert.Equal(404, (await wave.GetAsync("/v1alpha1/scans/sc-ffffffffffffffff_1")).Status); // records stay readable
    }

    [Fact]
    public async Task A_scan_whose_runner_died_is_taken_over_on_Postgres()
    {
        var registries = await registryFixture.GetAsync();
        var image = await ScanTestImages.PushAsync(registries.Plain, "scans/takeover", "1", ScanTestImages.DebianCondaLayers());
        var postgres = await (await postgresFixture.GetAsync()).CreateSchemaAsync(Token);
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, Settings(registries, new()
        {
            ["ConnectionStrings:postgres"] = postgres,
            ["Wave:Scan:LeaseTimeout"] = "00:00:03",
            ["Wave:Scan:SweepInterval"] = "00:00:01",
        }));
        var store = wave.Services.GetRequiredService<IScanStore>();
        // What a process that died after recording its scan leaves: a pending scan whose heartbeat stopped.
        var key = ScanId.Key(ImageReference.Parse(image).Name, "1", "linux/amd64");
        var orphan = new ScanRecord
        {
            Id = ScanId.Format(key, 1),
            Key = key,
            ContainerImage = image,
            Platform = "linux/amd64",
            StartTime = DateTimeOffset.UtcNow.AddMinutes(-1),
            RequestId = "3f0c1d2e3f4a5b6c7d8e9f01",
        };
        Assert.True(await store.CreateAsync(orphan, "dead-host/1234/abcdef", DateTimeOffset.UtcNow.AddMinutes(-1), Token));

        var record = await WaitForScanAsync(wave, orphan.Id);
        Assert.Equal(ScanStatus.Succeeded, record["status"]!.GetValue<string>());
        Assert.Equal(Expected(TestOsvDatabase.ExpectedDebianConda), Findings(record));
        Assert.NotNull(await store.ReadSpdxAsync(orphan.Id, Token));
        // A scan asked for through the service on Postgres runs too.
        var scans = wave.Services.GetRequiredService<ContainerScanService>();
        var scanId = await scans.StartScanAsync(Subject(registries.Images.Oci), ScanMode.Required, Token);
        Assert.Equal(ScanStatus.Succeeded, (await WaitForScanAsync(wave, scanId!))["status"]!.GetValue<string>());
    }
}
