using System.Net;
using System.Text.Json;

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

using Wave.Core.State;
using Wave.ServiceDefaults.Redis;
using Wave.Tests.Infrastructure.Redis;

namespace Wave.Tests.ServiceDefaults;

public sealed class StateRegistrationTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Without_a_redis_connection_string_state_lives_in_memory()
    {
        var builder = TestApps.Builder();
        builder.AddServiceDefaults();
        builder.AddWaveState();
        await using var app = builder.Build();

        Assert.IsType<InMemoryKeyValueStore>(app.Services.GetRequiredService<IKeyValueStore>());
        Assert.IsType<InMemoryStateNotifications>(app.Services.GetRequiredService<IStateNotifications>());
        Assert.Null(app.Services.GetService<RedisConnection>());
    }

    [Fact]
    public async Task With_a_redis_connection_string_state_lives_in_redis_and_health_pings_it()
    {
        await using var server = await RedisServer.StartAsync(password: "registration-secret");
        var builder = TestApps.Builder(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = server.ConnectionString,
            [StateExtensions.KeyPrefixKey] = "registration-test:",
        });
        builder.AddServiceDefaults();
        builder.AddWaveState();
        await using var app = builder.Build();
        app.MapDefaultEndpoints();
        using var http = new HttpClient { BaseAddress = await app.StartOnLoopbackAsync() };

        var store = Assert.IsType<RedisKeyValueStore>(app.Services.GetRequiredService<IKeyValueStore>());
        // Notification channels carry the key prefix too: pub/sub is shared by every database of a server.
        Assert.Equal("registration-test:", Assert.IsType<RedisStateNotifications>(app.Services.GetRequiredService<IStateNotifications>()).ChannelPrefix);
        await store.SetAsync("k", [1, 2, 3], null, Token);
        var connection = app.Services.GetRequiredService<RedisConnection>();
        Assert.Same(connection, app.Services.GetRequiredKeyedService<RedisConnection>("redis"));
        Assert.Equal([1, 2, 3], await connection.GetAsync("registration-test:k", Token));

        using (var healthy = await http.GetAsync("/health", Token))
        {
            var redisCheck = JsonDocument.Parse(await healthy.Content.ReadAsStringAsync(Token)).RootElement.GetProperty("checks").GetProperty("redis");
            Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
            Assert.Equal("Healthy", redisCheck.GetProperty("status").GetString());
        }

        await server.KillAsync();

        using var unhealthy = await http.GetAsync("/health", Token);
        var body = await unhealthy.Content.ReadAsStringAsync(Token);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, unhealthy.StatusCode);
        Assert.Contains($"127.0.0.1:{server.Port}", body);
        Assert.DoesNotContain("registration-secret", body);
        using var alive = await http.GetAsync("/alive", Token);
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
    }

    [Fact]
    public void AddRedisClient_without_a_connection_string_names_the_missing_setting()
    {
        var builder = TestApps.Builder();

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddRedisClient("cache"));

        Assert.Contains("ConnectionStrings__cache", error.Message);
    }
}
