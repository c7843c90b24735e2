using System.Net;
using System.Text.Json;

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

using StackExchange.Redis;

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
        Assert.Null(app.Services.GetService<IConnectionMultiplexer>());
    }

    [Fact]
    public async Task With_a_redis_connection_string_state_lives_in_redis_on_one_multiplexer_and_health_checks_it_as_redis()
    {
        await using var server = await RedisServer.StartAsync(password: "registration-secret");
        var builder = TestApps.Builder(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = server.ConnectionString,
            [StateExtensions.KeyPrefixKey] = "registration-test:",
        });
        builder.AddServiceDefaults();
        builder.AddWaveState();
        builder.AddWaveState(); // a second service of one host registers nothing twice
        await using var app = builder.Build();
        app.MapDefaultEndpoints();
        using var http = new HttpClient { BaseAddress = await app.StartOnLoopbackAsync() };

        var store = Assert.IsType<RedisKeyValueStore>(app.Services.GetRequiredService<IKeyValueStore>());
        // Notification channels carry the key prefix too: pub/sub is shared by every database of a server.
        Assert.Equal("registration-test:", Assert.IsType<RedisStateNotifications>(app.Services.GetRequiredService<IStateNotifications>()).ChannelPrefix);
        await store.SetAsync("k", [1, 2, 3], null, Token);
        var multiplexer = Assert.Single(app.Services.GetServices<IConnectionMultiplexer>());
        Assert.Equal([1, 2, 3], (byte[]?)await multiplexer.GetDatabase().StringGetAsync("registration-test:k"));

        using (var healthy = await http.GetAsync("/health", Token))
        {
            var checks = JsonDocument.Parse(await healthy.Content.ReadAsStringAsync(Token)).RootElement.GetProperty("checks");
            Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
            Assert.Equal(["redis", "self"], checks.EnumerateObject().Select(c => c.Name).Order(StringComparer.Ordinal));
            Assert.Equal("Healthy", checks.GetProperty("redis").GetProperty("status").GetString());
        }

        await server.KillAsync();

        using var unhealthy = await http.GetAsync("/health", Token);
        var body = await unhealthy.Content.ReadAsStringAsync(Token);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, unhealthy.StatusCode);
        Assert.Equal("Unhealthy", JsonDocument.Parse(body).RootElement.GetProperty("checks").GetProperty("redis").GetProperty("status").GetString());
        Assert.DoesNotContain("registration-secret", body);
        using var alive = await http.GetAsync("/alive", Token);
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
    }
}
