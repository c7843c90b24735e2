namespace Wave.ServiceDefaults.Redis;

/// <summary>
/// The server answered a command with an error (WRONGTYPE, a script error, ...). The connection is fine: this is
/// a fault of the command, not of the store's availability, so it is not a StateUnavailableException.
/// </summary>
public sealed class RedisErrorException(string command, string serverMessage)
    : Exception($"Redis refused {command}: {serverMessage}")
{
    public string ServerMessage { get; } = serverMessage;
}

/// <summary>The bytes from the server are not RESP2: the connection cannot be trusted any more.</summary>
public sealed class RedisProtocolException(string message) : Exception(message);
