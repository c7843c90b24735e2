namespace Wave.AppHost.LocalServers;

/// <summary>
/// redis-server from PATH as an Aspire executable resource. It gives its consumers the connection string Aspire's
/// RedisResource gives (<c>host:port,password=…</c>), so <c>WithReference</c> hands the services the same
/// <c>ConnectionStrings__redis</c> whichever way Redis runs. Aspire has no executable form of Redis: hence this class.
/// </summary>
public sealed class LocalRedisResource(string name, string command, string dataFolder, ParameterResource password)
    : ExecutableResource(name, command, dataFolder), IResourceWithConnectionString
{
    public const string PrimaryEndpointName = "tcp";

    public EndpointReference PrimaryEndpoint => new(this, PrimaryEndpointName);

    public ParameterResource PasswordParameter { get; } = password;

    public string DataFolder { get; } = dataFolder;

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.HostAndPort)},password={PasswordParameter}");
}

public static class LocalRedisExtensions
{
    /// <summary>
    /// redis-server on a loopback port DCP allocates, its append-only file in <c>DATA/NAME</c> (kept across runs), with
    /// the password in a config file of its own (not on the command line, where every process could read it).
    /// </summary>
    public static IResourceBuilder<LocalRedisResource> AddLocalRedis(this IDistributedApplicationBuilder builder, string name, string dataDirectory)
    {
        var folder = ServerFiles.DataFolder(dataDirectory, name);
        var redis = new LocalRedisResource(name, ServerFiles.Require("redis-server", "redis-server"), folder, ServerFiles.PasswordParameter(name, folder));
        var config = Path.Combine(folder, "redis.conf");

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(redis, async (_, ct) => connectionString = await redis.ConnectionStringExpression.GetValueAsync(ct));
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(redis, async (_, ct) =>
        {
            var password = await redis.PasswordParameter.GetValueAsync(ct);
            ServerFiles.WritePrivate(config, string.Join('\n',
                "bind 127.0.0.1",
                "protected-mode yes",
                "daemonize no",
                $"dir {folder}",
                // The token store must survive a restart: an append-only file, as the Kubernetes volume keeps one.
                "appendonly yes",
                "save \"\"",
                $"requirepass {password}",
                ""));
        });

        var healthCheckKey = $"{name}_check";
        builder.Services.AddHealthChecks().AddRedis(_ => connectionString ?? throw new InvalidOperationException("the connection string is not known yet"), name: healthCheckKey);

        return builder.AddResource(redis)
            .WithEndpoint(name: LocalRedisResource.PrimaryEndpointName, scheme: "tcp", isProxied: false)
            .WithArgs(context =>
            {
                context.Args.Add(config);
                context.Args.Add("--port");
                context.Args.Add(redis.PrimaryEndpoint.Property(EndpointProperty.TargetPort));
            })
            .WithIconName("Database")
            .WithHealthCheck(healthCheckKey)
            .ExcludeFromManifest();
    }
}
