using Wave.Tests.Infrastructure.Persistence;

[assembly: AssemblyFixture(typeof(PostgresFixture))]

namespace Wave.Tests.Infrastructure.Persistence;

/// <summary>
/// The test run's shared Postgres, started on first use so that a machine without postgresql fails only the tests
/// that need it. Each test takes its own schema from <see cref="PostgresServer.CreateSchemaAsync"/>.
/// </summary>
public sealed class PostgresFixture : IAsyncDisposable
{
    private readonly Lazy<Task<PostgresServer>> _server = new(PostgresServer.StartAsync);

    public Task<PostgresServer> GetAsync() => _server.Value;

    public async ValueTask DisposeAsync()
    {
        if (_server.IsValueCreated && _server.Value.IsCompletedSuccessfully)
        {
            await (await _server.Value).DisposeAsync();
        }
    }
}
