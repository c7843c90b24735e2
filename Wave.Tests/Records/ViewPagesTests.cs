using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

using Wave.Core.Builds;
using Wave.Core.Persistence;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Records;

/// <summary>The container and build pages in a real headless Chromium (Debian's chromium, driven by Playwright).</summary>
public sealed class ViewPagesTests(RegistryFixture registryFixture)
{
    private static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        var chromium = Requirements.Binary("chromium", "chromium");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        return (playwright, browser);
    }

    [Fact]
    public async Task The_container_page_shows_the_request_its_digests_and_expiry()
    {
        var registries = await registryFixture.GetAsync();
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, RecordsTestSupport.Settings(registries));
        var answer = await wave.Client.PostContainerAsync(new { containerImage = registries.Images.DockerV2, containerConfig = new { env = new[] { "GREETING=<hi>" } } });
        Assert.True(answer.Status == 200, answer.Text);
        var pulled = await wave.PullManifestAsync(answer.TargetImage);
        Assert.Equal(200, pulled.Status);
        var record = await wave.GetAsync($"/container-token/{answer.Token}");
        for (var i = 0; i < 100 && record.Body!["request"]!["waveDigest"] is null; i++)
        {
            await Task.Delay(50, TestContext.Current.CancellationToken);
            record = await wave.GetAsync($"/container-token/{answer.Token}");
        }

        var (playwright, browser) = await LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 390, Height = 844 } });
        var response = await page.GotoAsync($"{wave.BaseAddress}view/containers/{answer.Token}");
        Assert.Equal(200, response!.Status);
        Assert.Equal("width=device-width, initial-scale=1", await page.GetAttributeAsync("meta[name=viewport]", "content"));

        Assert.Equal(answer.Token, await page.InnerTextAsync("#summary td[data-field='Token']"));
        Assert.Equal("active", await page.InnerTextAsync("#summary td[data-field='State']"));
        Assert.Equal(answer.TargetImage, await page.InnerTextAsync("#summary td[data-field='Image']"));
        Assert.Equal("anonymous", await page.InnerTextAsync("#summary td[data-field='User']"));
        var expiration = DateTime.Parse(record.Body!["request"]!["expiration"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AdjustToUniversal);
        Assert.Equal(expiration.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", System.Globalization.CultureInfo.InvariantCulture), await page.InnerTextAsync("#summary td[data-field='Expires']"));
        Assert.Equal(registries.Images.DockerV2, await page.InnerTextAsync("#source td[data-field='Source image']"));
        Assert.Equal(record.Body["request"]!["sourceDigest"]!.GetValue<string>(), await page.InnerTextAsync("#source td[data-field='Source digest']"));
        Assert.Equal(pulled.Digest, await page.InnerTextAsync("#served td[data-field='Served digest']"));
        // Values are text, never markup.
        Assert.Equal("GREETING=<hi>", await page.InnerTextAsync("#config td[data-field='Environment']"));
        Assert.Equal(0, await page.Locator("#config hi").CountAsync());

        var missing = await page.GotoAsync($"{wave.BaseAddress}view/containers/0123456789abcdef01234567");
        Assert.Equal(404, missing!.Status);
        Assert.Contains("not found", await page.InnerTextAsync("h1"), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task The_build_page_follows_a_running_build_without_reloading()
    {
        var registries = await registryFixture.GetAsync();
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, RecordsTestSupport.Settings(registries));
        var builds = wave.Services.GetRequiredService<IBuildStore>();
        var cancellation = TestContext.Current.CancellationToken;
        var buildId = $"bd-{Guid.NewGuid():N}"[..19] + "_1";
        Assert.True(await builds.CreateAsync(new BuildRecord
        {
            BuildId = buildId,
            ContainerId = buildId[3..^2],
            TargetImage = "registry.example.com/wave/build:test",
            Dockerfile = "FROM busybox\nRUN echo '<b>bold</b>'",
            Platform = "linux/arm64",
            CreatedAt = DateTimeOffset.UtcNow,
        }, cancellation));

        var (playwright, browser) = await LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await browser.NewPageAsync();
        var response = await page.GotoAsync($"{wave.BaseAddress}view/builds/{buildId}");
        Assert.Equal(200, response!.Status);
        Assert.Equal("PENDING", await page.InnerTextAsync("#status"));
        Assert.Equal("linux/arm64", await page.InnerTextAsync("#summary td[data-field='Platform']"));
        Assert.Equal("registry.example.com/wave/build:test", await page.InnerTextAsync("#summary td[data-field='Image']"));
        Assert.Equal("FROM busybox\nRUN echo '<b>bold</b>'", await page.InnerTextAsync("#dockerfile"));
        Assert.Equal(0, await page.Locator("#dockerfile b").CountAsync());
        await page.EvaluateAsync("window.__sameDocument = true");

        Assert.True((await builds.TryTakeLeaseAsync(buildId, "view-pages-test", DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1), cancellation)).Acquired);
        Assert.True(await builds.AppendLogAsync(buildId, "STEP 1/2: FROM busybox\n", cancellation));
        await page.WaitForFunctionAsync("document.getElementById('status').textContent === 'RUNNING' && document.getElementById('log').textContent.includes('STEP 1/2')",
            null, new() { Timeout = 15_000 });

        Assert.True(await builds.AppendLogAsync(buildId, "STEP 2/2: RUN echo <b>bold</b>\nCOMMIT\n", cancellation));
        Assert.True(await builds.TryCompleteAsync(buildId, new BuildOutcome(true, 0, "sha256:" + new string('a', 64), null, TimeSpan.FromSeconds(42)),
            DateTimeOffset.UtcNow, cancellation));
        await page.WaitForFunctionAsync("document.getElementById('status').textContent === 'SUCCEEDED'", null, new() { Timeout = 15_000 });
        Assert.Equal("STEP 1/2: FROM busybox\nSTEP 2/2: RUN echo <b>bold</b>\nCOMMIT\n", await page.EvaluateAsync<string>("document.getElementById('log').textContent"));
        Assert.Equal("42.0 s", await page.InnerTextAsync("#duration"));
        Assert.Equal("sha256:" + new string('a', 64), await page.InnerTextAsync("#digest"));
        Assert.True(await page.EvaluateAsync<bool>("window.__sameDocument === true"), "the page was reloaded");

        var missing = await page.GotoAsync($"{wave.BaseAddress}view/builds/bd-unknown_1");
        Assert.Equal(404, missing!.Status);
    }
}
