using System.Globalization;

namespace Wave.ServiceDefaults.Redis;

/// <summary>
/// A Redis connection string as Aspire writes it, in StackExchange.Redis syntax:
/// <c>host:port[,password=...][,user=...][,ssl=false][,defaultDatabase=N][,abortConnect=false][,connectTimeout=ms]</c>.
/// Options StackExchange.Redis knows but this client has no use for are accepted and ignored, so that a string
/// written for it works here too. <see cref="ToString"/> never shows the password.
/// </summary>
public sealed record RedisConnectionOptions
{
    public const int DefaultPort = 6379;

    public required string Host { get; init; }
    public int Port { get; init; } = DefaultPort;
    public string? User { get; init; }
    public string? Password { get; init; }
    public bool Ssl { get; init; }
    public int Database { get; init; }

    /// <summary>When true, a failed first connection is an error at construction; otherwise commands retry.</summary>
    public bool AbortConnect { get; init; }

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a command waits for its reply; past it the connection is presumed dead.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The AUTH command this login needs (with the user when there is one), or null without a password.</summary>
    internal byte[]? AuthCommand() => Password is null
        ? null
        : Resp.EncodeCommand(User is null ? ["AUTH", Password] : ["AUTH", User, Password]);

    /// <summary>The pause before the first reconnection attempt after a failure; it doubles per failure up to <see cref="LongestBackoff"/>.</summary>
    internal static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(50);

    internal static readonly TimeSpan LongestBackoff = TimeSpan.FromSeconds(1);

    internal static TimeSpan NextBackoff(TimeSpan current) => TimeSpan.FromTicks(Math.Min(current.Ticks * 2, LongestBackoff.Ticks));

    /// <summary>host:port, the only thing about the server an error message names.</summary>
    public string Endpoint => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    public static RedisConnectionOptions Parse(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        string? endpoint = null;
        var options = new RedisConnectionOptions { Host = "" };
        foreach (var rawPart in connectionString.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = rawPart.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0)
            {
                // Several endpoints name replicas of one server; this client talks to the first.
                endpoint ??= rawPart;
                continue;
            }
            var key = rawPart[..equals].Trim();
            var value = rawPart[(equals + 1)..].Trim();
            options = key.ToLowerInvariant() switch
            {
                "password" => options with { Password = value },
                "user" => options with { User = value },
                "ssl" => options with { Ssl = ParseBool(key, value) },
                "defaultdatabase" => options with { Database = ParseInt(key, value, min: 0) },
                "abortconnect" => options with { AbortConnect = ParseBool(key, value) },
                "connecttimeout" => options with { ConnectTimeout = TimeSpan.FromMilliseconds(ParseInt(key, value, min: 1)) },
                "synctimeout" or "asynctimeout" => options with { CommandTimeout = TimeSpan.FromMilliseconds(ParseInt(key, value, min: 1)) },
                _ => options,
            };
        }
        if (endpoint is null)
        {
            throw new FormatException("the Redis connection string names no host:port");
        }
        var (host, port) = ParseEndpoint(endpoint);
        return options with { Host = host, Port = port };
    }

    private static (string Host, int Port) ParseEndpoint(string endpoint)
    {
        if (endpoint.StartsWith('['))
        {
            var close = endpoint.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new FormatException($"the Redis endpoint '{endpoint}' has an unclosed '['");
            }
            var host = endpoint[1..close];
            var rest = endpoint[(close + 1)..];
            return (host, rest.StartsWith(':') ? ParsePort(endpoint, rest[1..]) : DefaultPort);
        }
        var colon = endpoint.LastIndexOf(':');
        if (colon < 0)
        {
            return (endpoint, DefaultPort);
        }
        if (endpoint.IndexOf(':', StringComparison.Ordinal) != colon)
        {
            return (endpoint, DefaultPort); // a bare IPv6 address
        }
        return (endpoint[..colon], ParsePort(endpoint, endpoint[(colon + 1)..]));
    }

    private static int ParsePort(string endpoint, string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535
            ? port
            : throw new FormatException($"the Redis endpoint '{endpoint}' has no valid port");

    private static bool ParseBool(string key, string value) =>
        bool.TryParse(value, out var result) ? result : throw new FormatException($"'{key}' must be true or false");

    private static int ParseInt(string key, string value, int min) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var result) && result >= min
            ? result
            : throw new FormatException($"'{key}' must be an integer of at least {min}");

    /// <summary>The connection string with the password masked, fit for a log line.</summary>
    public override string ToString()
    {
        var parts = new List<string> { Endpoint };
        if (User is not null)
        {
            parts.Add($"user={User}");
        }
        if (Password is not null)
        {
            parts.Add("password=*****");
        }
        parts.Add($"ssl={Ssl.ToString().ToLowerInvariant()}");
        parts.Add(string.Create(CultureInfo.InvariantCulture, $"defaultDatabase={Database}"));
        return string.Join(',', parts);
    }
}
