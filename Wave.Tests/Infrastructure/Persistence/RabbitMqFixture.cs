using Wave.Tests.Infrastructure.Persistence;

[assembly: AssemblyFixture(typeof(RabbitMqFixture))]

namespace Wave.Tests.Infrastructure.Persistence;

/// <summary>
/// The test run's shared RabbitMQ node, started on first use so that a machine without rabbitmq-server fails only the
/// tests that need it. Tests sharing it use their own queue names and never stop it; a test that restarts the
/// broker starts its own with <see cref="RabbitMqServer.StartAsync"/>.
/// </summary>
public sealed class RabbitMqFixture : IAsyncDisposable
{
    private readonly Lazy<Task<RabbitMqServer>> _server = new(RabbitMqServer.StartAsync);

    public Task<RabbitMqServer> GetAsync() => _server.Value;

    public async ValueTask DisposeAsync()
    {
        if (_server.IsValueCreated && _server.Value.IsCompletedSuccessfully)
        {
            await (await _server.Value).DisposeAsync();
        }
    }
}
