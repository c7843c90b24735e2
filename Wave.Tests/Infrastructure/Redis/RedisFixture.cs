using Wave.Tests.Infrastructure.Redis;

[assembly: AssemblyFixture(typeof(RedisFixture))]

namespace Wave.Tests.Infrastructure.Redis;

/// <summary>
/// The test run's shared redis-server, started on first use so that a machine without redis-server fails only
/// the tests that need it. Tests sharing it must use their own keys (or key prefix) and never stop it.
/// </summary>
public sealed class RedisFixture : IAsyncDisposable
{
    private readonly Lazy<Task<RedisServer>> _server = new(() => RedisServer.StartAsync());

    public Task<RedisServer> GetAsync() => _server.Value;

    public async ValueTask DisposeAsync()
    {
        if (_server.IsValueCreated && _server.Value.IsCompletedSuccessfully)
        {
            await (await _server.Value).DisposeAsync();
        }
    }
}
