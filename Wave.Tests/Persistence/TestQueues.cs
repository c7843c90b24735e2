using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

using Wave.Core.Persistence;
using Wave.ServiceDefaults.RabbitMq;

namespace Wave.Tests.Persistence;

/// <summary>
/// A RabbitMQ build queue made the way a service makes it (<c>AddWaveBuildQueue</c>: Aspire.RabbitMQ.Client's connection
/// and health check), in a host of its own. Disposing the host closes its connection: to the broker, that builder is gone.
/// </summary>
internal sealed class TestRabbitMqQueue(IHost host) : IAsyncDisposable
{
    public IHost Host { get; } = host;

    public RabbitMqBuildQueue Queue => Host.Services.GetRequiredService<RabbitMqBuildQueue>();

    public static TestRabbitMqQueue Create(string connectionString, BuildQueueOptions options)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:rabbitmq"] = connectionString,
            ["Wave:Build:QueueName"] = options.QueueName,
            ["Wave:Build:Concurrency"] = options.Concurrency.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Wave:Build:MaxDeliveries"] = options.MaxDeliveries.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        builder.AddWaveBuildQueue();
        return new TestRabbitMqQueue(builder.Build());
    }

    public async ValueTask DisposeAsync()
    {
        if (Host is IAsyncDisposable asyncHost)
        {
            await asyncHost.DisposeAsync();
        }
        else
        {
            Host.Dispose();
        }
    }
}
