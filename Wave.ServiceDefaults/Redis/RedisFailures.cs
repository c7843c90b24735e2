using System.Net;

using StackExchange.Redis;

using Wave.Core.State;

namespace Wave.ServiceDefaults.Redis;

/// <summary>Which StackExchange.Redis failures mean "Redis cannot be used now", and how Wave words them.</summary>
internal static class RedisFailures
{
    /// <summary>
    /// Connection and timeout failures, and the server errors that say the server cannot serve now (still loading its
    /// data, a replica that may not write, a login or permission refused): all of them pass when Redis (or its
    /// configuration) is fixed, so the caller answers 503. Other server errors (a wrong type) are Wave's bugs.
    /// </summary>
    public static bool IsUnavailable(Exception e) => e switch
    {
        RedisConnectionException or RedisTimeoutException => true,
        RedisServerException server => server.Message.StartsWith("LOADING", StringComparison.Ordinal)
            || server.Message.StartsWith("READONLY", StringComparison.Ordinal)
            || server.Message.StartsWith("MASTERDOWN", StringComparison.Ordinal)
            || server.Message.StartsWith("BUSY", StringComparison.Ordinal)
            || server.Message.StartsWith("NOAUTH", StringComparison.Ordinal)
            || server.Message.StartsWith("WRONGPASS", StringComparison.Ordinal)
            || server.Message.StartsWith("NOPERM", StringComparison.Ordinal),
        _ => false,
    };

    /// <summary>
    /// The client's own message names the command and, unless IncludeDetailInExceptions is off, its key (which holds a
    /// container token); this one says where and what kind of failure only. The original stays as the inner exception.
    /// </summary>
    public static StateUnavailableException Unavailable(IConnectionMultiplexer redis, Exception e)
    {
        var reason = e switch
        {
            RedisConnectionException connection => $"no connection ({connection.FailureType})",
            RedisTimeoutException => "no reply in time",
            RedisServerException server => "the server refused: " + server.Message.Split(' ', 2)[0],
            _ => e.GetType().Name,
        };
        return new StateUnavailableException($"Redis at {Endpoints(redis)} is unavailable: {reason}", e);
    }

    /// <summary>host:port of each configured endpoint: never the connection string, which may hold a password.</summary>
    public static string Endpoints(IConnectionMultiplexer redis) =>
        string.Join(",", redis.GetEndPoints(configuredOnly: true).Select(Format));

    public static string Format(EndPoint endpoint) => endpoint switch
    {
        DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
        IPEndPoint ip => ip.ToString(),
        _ => endpoint.ToString() ?? "?",
    };
}
