using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

using Wave.Core.Persistence;
using Wave.ServiceDefaults.Postgres;
using Wave.ServiceDefaults.RabbitMq;
using Wave.ServiceDefaults.Sqlite;
using Wave.Tests.Infrastructure.Persistence;

namespace Wave.Tests.Persistence;

/// <summary>AddWaveBuildStore / AddWaveBuildQueue choose by Aspire's connection strings, migrate at start-up and report health.</summary>
public sealed class PersistenceRegistrationTests(PostgresFixture postgres, RabbitMqFixture rabbit)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static HostApplicationBuilder Builder(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddServiceDefaults();
        builder.AddWaveBuildStore();
        builder.AddWaveBuildQueue();
        return builder;
    }

    [Fact]
    public async Task Without_connection_strings_builds_go_to_sqlite_under_the_data_directory_and_an_in_process_queue()
    {
        var dataDirectory = Directory.CreateTempSubdirectory("wave-data-").FullName;
        try
        {
            using var host = Builder(new() { ["Wave:DataDirectory"] = dataDirectory, ["Wave:Build:Concurrency"] = "3" }).Build();
            await host.StartAsync(Token);

            var store = Assert.IsType<SqliteBuildStore>(host.Services.GetRequiredService<IBuildStore>());
            Assert.Equal(Path.Combine(dataDirectory, "wave.db"), store.DatabasePath);
            Assert.True(File.Exists(store.DatabasePath)); // migrated at start-up, before any use
            Assert.Equal(0, await store.MigrateAsync(Token));
            Assert.IsType<ChannelBuildQueue>(host.Services.GetRequiredService<IBuildQueue>());
            Assert.Equal(3, host.Services.GetRequiredService<BuildQueueOptions>().Concurrency);
            await host.StopAsync(Token);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task With_connection_strings_builds_go_to_postgres_and_rabbitmq_and_both_report_healthy()
    {
        var postgresConnection = await (await postgres.GetAsync()).CreateSchemaAsync(Token);
        var rabbitConnection = (await rabbit.GetAsync()).ConnectionString;
        using var host = Builder(new()
        {
            ["ConnectionStrings:postgres"] = postgresConnection,
            ["ConnectionStrings:rabbitmq"] = rabbitConnection,
            ["Wave:Build:QueueName"] = TestJobs.UniqueQueueName(),
        }).Build();
        await host.StartAsync(Token);

        var store = Assert.IsType<PostgresBuildStore>(host.Services.GetRequiredService<IBuildStore>());
        Assert.Equal(0, await store.MigrateAsync(Token)); // the host applied them at start-up
        Assert.IsType<RabbitMqBuildQueue>(host.Services.GetRequiredService<IBuildQueue>());
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(Token);
        Assert.Equal(HealthStatus.Healthy, report.Entries["postgres"].Status);
        Assert.Equal(HealthStatus.Healthy, report.Entries["rabbitmq"].Status);
        Assert.DoesNotContain("unused-with-trust", report.Entries["postgres"].Description ?? "", StringComparison.Ordinal);
        await host.StopAsync(Token);
    }
}
