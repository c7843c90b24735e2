using Microsoft.Extensions.Hosting;

using StackExchange.Redis;

namespace Wave.Tests.Infrastructure.Redis;

/// <summary>
/// StackExchange.Redis multiplexers for tests: as the services configure theirs (Wave's changes to the client's
/// defaults included), or plain, for a test that talks to Redis behind Wave's back.
/// </summary>
internal static class RedisClients
{
    /// <summary>A multiplexer configured as <c>AddWaveState</c> configures the services' one.</summary>
    public static async Task<ConnectionMultiplexer> AsWaveAsync(string connectionString)
    {
        var options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = false;
        StateExtensions.ConfigureForWave(options);
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    /// <summary>A separate client, e.g. to change ACLs, kill connections or delete keys while Wave runs.</summary>
    public static Task<ConnectionMultiplexer> RawAsync(string connectionString) =>
        ConnectionMultiplexer.ConnectAsync(connectionString + ",allowAdmin=true");

    /// <summary>Any command on the multiplexer's (single) server, e.g. <c>ExecuteAsync("ACL", "SETUSER", "default", "-subscribe")</c>.</summary>
    public static Task<RedisResult> ExecuteAsync(this IConnectionMultiplexer redis, string command, params object[] arguments) =>
        redis.GetDatabase().ExecuteAsync(command, arguments);
}
