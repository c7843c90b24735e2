namespace Wave.AppHost.Model;

/// <summary>How each kind of backing service runs as a container: its arguments, environment and volume.</summary>
public static class ContainerSpec
{
    public static IReadOnlyList<string> Args(BackingResource resource) => resource.Kind switch
    {
        // The token store must survive a restart: an append-only file in the volume.
        BackingKind.Redis => ["--appendonly", "yes"],
        _ => [],
    };

    /// <param name="resource">the backing service</param>
    /// <param name="password">how the password parameter named by its argument is written in this output</param>
    public static IReadOnlyList<KeyValuePair<string, string>> Environment(BackingResource resource, Func<string, string> password) =>
        resource.Kind switch
        {
            BackingKind.Postgres =>
            [
                new("POSTGRES_HOST_AUTH_METHOD", "scram-sha-256"),
                new("POSTGRES_INITDB_ARGS", "--auth-host=scram-sha-256 --auth-local=scram-sha-256"),
                new("POSTGRES_USER", resource.UserName!),
                new("POSTGRES_PASSWORD", password(resource.PasswordParameter!)),
                new("POSTGRES_DB", resource.Database ?? "postgres"),
            ],
            BackingKind.RabbitMq =>
            [
                new("RABBITMQ_DEFAULT_USER", resource.UserName!),
                new("RABBITMQ_DEFAULT_PASS", password(resource.PasswordParameter!)),
            ],
            _ => [],
        };

    public static string VolumeName(BackingResource resource) => $"wave-{resource.Name}-data";
}
