using System.Text.Json;

using Microsoft.Extensions.DependencyInjection;

using Wave.RegistryProxy.Content;

using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Persistence;
using Wave.Tests.Infrastructure.Redis;
using Wave.Tests.Persistence;

namespace Wave.Tests.ServiceDefaults;

/// <summary>
/// In distributed mode (connection strings set, as the AppHost sets them) each service's /health checks the backing
/// services it uses, by their resource names (and the registry proxy whether it receives token revocations), and
/// /alive checks none of them.
/// </summary>
public sealed class DistributedHealthTests(RedisFixture redisFixture, PostgresFixture postgresFixture, RabbitMqFixture rabbitFixture)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <param name="postgresConnectionName">
    /// "postgres" (the server resource) or "wave" (what an AppHost's <c>AddPostgres("postgres").AddDatabase("wave")</c>
    /// hands out): the check is "postgres" either way.
    /// </param>
    [Theory]
    [InlineData(WaveRole.Api, "postgres", new[] { "postgres", "rabbitmq", "redis", "self" })]
    [InlineData(WaveRole.RegistryProxy, "postgres", new[] { "postgres", "redis", "revocations", "self" })]
    [InlineData(WaveRole.Builder, "postgres", new[] { "postgres", "rabbitmq", "redis", "self" })]
    [InlineData(WaveRole.Api, "wave", new[] { "postgres", "rabbitmq", "redis", "self" })]
    [InlineData(WaveRole.Builder, "wave", new[] { "postgres", "rabbitmq", "redis", "self" })]
    public async Task Health_lists_the_backing_services_of_each_service_by_resource_name(WaveRole role, string postgresConnectionName, string[] expected)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = (await redisFixture.GetAsync()).ConnectionString,
            [$"ConnectionStrings:{postgresConnectionName}"] = await (await postgresFixture.GetAsync()).CreateSchemaAsync(Token),
            ["ConnectionStrings:rabbitmq"] = (await rabbitFixture.GetAsync()).ConnectionString,
            ["Wave:Build:QueueName"] = TestJobs.UniqueQueueName(),
        };
        await using var host = await WaveTestHost.StartAsync(role, settings);
        if (role == WaveRole.RegistryProxy)
        {
            // The proxy's revocation subscription connects in the background; "revocations" is Degraded until it has.
            await host.Services.GetRequiredService<ContainerRequestCache>().WaitUntilListeningAsync(Token).WaitAsync(TimeSpan.FromSeconds(10), Token);
        }

        using var health = await host.Client.GetAsync("/health", Token);
        var body = await health.Content.ReadAsStringAsync(Token);
        Assert.True(health.IsSuccessStatusCode, body);
        var checks = JsonDocument.Parse(body).RootElement.GetProperty("checks");
        Assert.Equal(expected, checks.EnumerateObject().Select(c => c.Name).Order(StringComparer.Ordinal));
        Assert.All(checks.EnumerateObject(), c => Assert.Equal("Healthy", c.Value.GetProperty("status").GetString()));

        using var alive = await host.Client.GetAsync("/alive", Token);
        var aliveChecks = JsonDocument.Parse(await alive.Content.ReadAsStringAsync(Token)).RootElement.GetProperty("checks");
        Assert.Equal(["self"], aliveChecks.EnumerateObject().Select(c => c.Name));
        Assert.IsType<Wave.ServiceDefaults.Postgres.PostgresBuildStore>(host.Services.GetRequiredService<Wave.Core.Persistence.IBuildStore>());
    }
}
