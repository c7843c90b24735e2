using System.Text.Json.Nodes;

using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Records;

/// <summary>The record of a request (describe, status, page), and revocation by an administrator, on an embedded Wave.</summary>
public sealed class ContainerRecordApiTests(RegistryFixture registryFixture)
{
    private static readonly TestLayer Layer = TestLayer.Create(new Dictionary<string, string> { ["wave/record.txt"] = "recorded" });

    [Fact]
    public async Task A_request_is_described_with_its_served_digest_and_its_status_is_done()
    {
        var registries = await registryFixture.GetAsync();
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, RecordsTestSupport.Settings(registries));
        var presigned = Layer.AsRemoteLayer("https://layers.example.com/l.tar.gz?X-Signature=secret-signature");
        var answer = await wave.Client.PostContainerAsync(new
        {
            containerImage = registries.Images.BasicPrivate,
            containerPlatform = "linux/amd64",
            containerConfig = new { env = new[] { "A=1" }, layers = new[] { Layer.AsDataLayer(), presigned } },
        });
        Assert.True(answer.Status == 200, answer.Text);

        var described = await wave.GetAsync($"/container-token/{answer.Token}");
        Assert.True(described.Status == 200, described.Text);
        var request = described.Body!["request"]!;
        Assert.Equal(answer.Token, described.Body["token"]!.GetValue<string>());
        Assert.Equal(registries.Images.BasicPrivate, request["sourceImage"]!.GetValue<string>());
        Assert.StartsWith("sha256:", request["sourceDigest"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(answer.TargetImage, request["waveImage"]!.GetValue<string>());
        Assert.Null(request["waveDigest"]);
        Assert.Equal("linux/amd64", request["platform"]!.GetValue<string>());
        Assert.Equal("127.0.0.1", request["ipAddress"]!.GetValue<string>());
        Assert.Equal("configuration", request["credentialsSource"]!.GetValue<string>());
        Assert.False(request["revoked"]!.GetValue<bool>());
        Assert.False(request["expired"]!.GetValue<bool>());
        Assert.Null(request["user"]);
        // No inline layer data, no query string of a layer URL, no registry password.
        var layers = request["containerConfig"]!["layers"]!.AsArray();
        Assert.Equal("data:", layers[0]!["location"]!.GetValue<string>());
        Assert.Equal("https://layers.example.com/l.tar.gz", layers[1]!["location"]!.GetValue<string>());
        Assert.Equal(Layer.GzipDigest, layers[0]!["gzipDigest"]!.GetValue<string>());
        Assert.DoesNotContain("secret-signature", described.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(registries.Basic.Credentials!.Password, described.Text, StringComparison.Ordinal);

        // The first manifest served fills the record's served digest.
        var pulled = await wave.PullManifestAsync(answer.TargetImage);
        Assert.True(pulled.Status == 200, pulled.Body);
        JsonNode? waveDigest = null;
        for (var i = 0; i < 100 && waveDigest is null; i++)
        {
            await Task.Delay(50, TestContext.Current.CancellationToken);
            waveDigest = (await wave.GetAsync($"/container-token/{answer.Token}")).Body!["request"]!["waveDigest"];
        }
        Assert.Equal(pulled.Digest, waveDigest?.GetValue<string>());

        var status = await wave.GetAsync($"/v1alpha2/container/{answer.Token}/status");
        Assert.True(status.Status == 200, status.Text);
        Assert.Equal(answer.Token, status.Body!["id"]!.GetValue<string>());
        Assert.Equal("DONE", status.Body["status"]!.GetValue<string>());
        Assert.True(status.Body["succeeded"]!.GetValue<bool>());
        Assert.Null(status.Body["buildId"]);
        // As the Wave server answers a success: no reason, no details page; ISO-8601 creation time, duration in seconds.
        Assert.Null(status.Body["detailsUri"]);
        Assert.Null(status.Body["reason"]);
        Assert.EndsWith("Z", status.Body["creationTime"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(System.Text.Json.JsonValueKind.Number, status.Body["duration"]!.GetValueKind());

        foreach (var path in new[] { "/container-token/0123456789abcdef01234567", "/v1alpha2/container/0123456789abcdef01234567/status", "/container-token/not-a-token" })
        {
            var unknown = await wave.GetAsync(path);
            Assert.Equal(404, unknown.Status);
            Assert.Contains("is unknown", unknown.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task An_admin_revokes_a_token_at_once_and_its_pulls_are_refused()
    {
        var registries = await registryFixture.GetAsync();
        // A long proxy cache: only the revocation itself can make the proxy forget the token.
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, RecordsTestSupport.Settings(registries, new() { ["Wave:Proxy:RequestCacheTime"] = "01:00:00" }));
        var answer = await wave.Client.PostContainerAsync(new { containerImage = registries.Images.DockerV2, containerConfig = new { layers = new[] { Layer.AsDataLayer() } } });
        Assert.True(answer.Status == 200, answer.Text);
        Assert.Equal(200, (await wave.PullManifestAsync(answer.TargetImage)).Status);

        var (anonymous, challenge) = await wave.RevokeAsync(answer.Token, user: null);
        Assert.Equal(401, anonymous.Status);
        Assert.StartsWith("Basic realm=", challenge, StringComparison.Ordinal);
        Assert.Contains("Wave:Admin:Accounts", anonymous.Message, StringComparison.Ordinal);
        var (wrong, wrongChallenge) = await wave.RevokeAsync(answer.Token, password: "not-the-password");
        Assert.Equal(401, wrong.Status);
        Assert.StartsWith("Basic realm=", wrongChallenge, StringComparison.Ordinal);
        Assert.Equal(200, (await wave.PullManifestAsync(answer.TargetImage)).Status);

        var (revoked, _) = await wave.RevokeAsync(answer.Token);
        Assert.True(revoked.Status == 200, revoked.Text);
        Assert.True(revoked.Body!["revoked"]!.GetValue<bool>());

        var pull = await wave.PullManifestAsync(answer.TargetImage);
        Assert.Equal(404, pull.Status);
        Assert.Equal("NAME_UNKNOWN", JsonNode.Parse(pull.Body)!["errors"]![0]!["code"]!.GetValue<string>());

        var described = await wave.GetAsync($"/container-token/{answer.Token}");
        Assert.True(described.Body!["request"]!["revoked"]!.GetValue<bool>());
        Assert.NotNull(described.Body["request"]!["revokedAt"]);
        Assert.Equal(404, (await wave.RevokeAsync("0123456789abcdef01234567")).Answer.Status);
    }

    [Fact]
    public async Task An_expired_token_is_still_described_but_no_longer_pulled()
    {
        var registries = await registryFixture.GetAsync();
        await using var wave = await WaveTestHost.StartAsync(WaveRole.Embedded, RecordsTestSupport.Settings(registries, new() { ["Wave:Tokens:TimeToLive"] = "00:00:01" }));
        var answer = await wave.Client.PostContainerAsync(new { containerImage = registries.Images.DockerV2 });
        Assert.True(answer.Status == 200, answer.Text);
        await Task.Delay(TimeSpan.FromSeconds(1.5), TestContext.Current.CancellationToken);

        Assert.Equal(404, (await wave.PullManifestAsync(answer.TargetImage)).Status);
        var described = await wave.GetAsync($"/container-token/{answer.Token}");
        Assert.True(described.Status == 200, described.Text);
        Assert.True(described.Body!["request"]!["expired"]!.GetValue<bool>());
        Assert.Equal(registries.Images.DockerV2, described.Body["request"]!["sourceImage"]!.GetValue<string>());
    }
}
