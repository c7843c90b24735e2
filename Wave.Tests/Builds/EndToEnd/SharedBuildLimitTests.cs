using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Redis;

namespace Wave.Tests.Builds.EndToEnd;

/// <summary>Two Api instances sharing Redis share the build limit: what one granted counts on the other.</summary>
public sealed class SharedBuildLimitTests(RegistryFixture registryFixture, RedisFixture redisFixture)
{
    [Fact]
    public async Task A_build_limit_reached_through_one_api_instance_holds_on_the_other()
    {
        var registries = await registryFixture.GetAsync();
        var redis = await redisFixture.GetAsync();
        var work = Path.Combine(Path.GetTempPath(), "wave-shared-limit-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = BuildHostFixture.Settings(registries, work);
        settings["ConnectionStrings:redis"] = redis.ConnectionString;
        // A prefix of this test's own, so that counters of other tests on the shared Redis do not count.
        settings["Wave:State:KeyPrefix"] = $"limit-test-{Guid.NewGuid():N}:";
        settings["Wave:RateLimits:AnonymousBuilds:Limit"] = "1";
        settings["Wave:RateLimits:AnonymousBuilds:Window"] = "1.00:00:00";
        await using var first = await WaveTestHost.StartAsync(WaveRole.Api, settings);
        await using var second = await WaveTestHost.StartAsync(WaveRole.Api, settings);
        object Request(string nonce) => new { containerFile = BuildApi.Base64($"FROM {registries.Images.DockerV2}\n# {nonce}\n"), freeze = true, buildRepository = $"{registries.Plain.Host}/shared/limit" };

        var granted = await first.Client.PostContainerAsync(Request(Guid.NewGuid().ToString("N")));
        var refused = await second.Client.PostContainerAsync(Request(Guid.NewGuid().ToString("N")));

        Assert.True(granted.Status == 200, granted.Text);
        Assert.Equal(429, refused.Status);
        Assert.Contains("1 container builds per day for anonymous client 127.0.0.1", refused.Message, StringComparison.Ordinal);
    }
}
