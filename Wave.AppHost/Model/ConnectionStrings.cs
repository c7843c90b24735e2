namespace Wave.AppHost.Model;

/// <summary>
/// The connection string each kind of backing service gives its consumers, in the two forms the model is consumed
/// in: Aspire's manifest expression (placeholders a deployment tool resolves) and the value for a running server.
/// </summary>
public static class ConnectionStrings
{
    public static string ManifestExpression(BackingResource resource)
    {
        var host = $"{{{resource.Name}.bindings.tcp.host}}";
        var port = $"{{{resource.Name}.bindings.tcp.port}}";
        var password = $"{{{resource.PasswordParameter}.value}}";
        return resource.Kind switch
        {
            BackingKind.Redis => $"{host}:{port}",
            BackingKind.Postgres => $"Host={host};Port={port};Username={resource.UserName};Password={password}",
            BackingKind.RabbitMq => $"amqp://{resource.UserName}:{password}@{host}:{port}",
            _ => throw new ArgumentOutOfRangeException(nameof(resource)),
        };
    }

    /// <summary>What a consumer of <paramref name="resource"/> is given, database included. The password goes in as given: generated ones are alphanumeric.</summary>
    public static string ForServer(BackingResource resource, string host, int port, string? password)
    {
        var server = resource.Kind switch
        {
            BackingKind.Redis => password is null ? $"{host}:{port}" : $"{host}:{port},password={password}",
            BackingKind.Postgres => password is null
                ? $"Host={host};Port={port};Username={resource.UserName}"
                : $"Host={host};Port={port};Username={resource.UserName};Password={password}",
            BackingKind.RabbitMq => $"amqp://{resource.UserName}:{password}@{host}:{port}",
            _ => throw new ArgumentOutOfRangeException(nameof(resource)),
        };
        return resource.Database is null ? server : $"{server};Database={resource.Database}";
    }
}
