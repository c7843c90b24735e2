using System.Security.Cryptography;
using System.Text;

using RabbitMQ.Client;

namespace Wave.AppHost.LocalServers;

/// <summary>
/// A private RabbitMQ node from rabbitmq-server on PATH, as an Aspire executable resource with the connection string
/// of Aspire's RabbitMQServerResource (<c>amqp://user:password@host:port</c>). Aspire has no executable form of
/// RabbitMQ: hence this class.
/// </summary>
public sealed class LocalRabbitMQResource(string name, string command, string workingDirectory, ParameterResource password)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public const string PrimaryEndpointName = "tcp";
    public const string DistributionEndpointName = "dist";
    public const string UserName = "wave";

    public EndpointReference PrimaryEndpoint => new(this, PrimaryEndpointName);

    public EndpointReference DistributionEndpoint => new(this, DistributionEndpointName);

    public ParameterResource PasswordParameter { get; } = password;

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"amqp://{UserName}:{PasswordParameter}@{PrimaryEndpoint.Property(EndpointProperty.HostAndPort)}");
}

/// <summary>
/// Erlang's port mapper for the node. Started on its own port and stopped with the application: the one Erlang would
/// start by itself is a daemon that outlives the AppHost and answers on the system's port 4369.
/// </summary>
public sealed class LocalEpmdResource(string name, string command, string workingDirectory) : ExecutableResource(name, command, workingDirectory)
{
    public EndpointReference PrimaryEndpoint => new(this, "tcp");
}

public static class LocalRabbitMQExtensions
{
    public static IResourceBuilder<LocalRabbitMQResource> AddLocalRabbitMQ(this IDistributedApplicationBuilder builder, string name, string dataDirectory)
    {
        // Debian's /usr/sbin/rabbitmq-server switches to the rabbitmq user and the system's folders; the script it
        // wraps runs a private node with the environment given here.
        const string Unwrapped = "/usr/lib/rabbitmq/bin/rabbitmq-server";
        var server = File.Exists(Unwrapped) ? Unwrapped : ServerFiles.Require("rabbitmq-server", "rabbitmq-server");
        var folder = ServerFiles.DataFolder(dataDirectory, name);
        var rabbitmq = new LocalRabbitMQResource(name, server, folder, ServerFiles.PasswordParameter(name, folder));
        var config = Path.Combine(folder, "rabbitmq.conf");
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(rabbitmq, async (_, ct) =>
        {
            var password = await rabbitmq.PasswordParameter.GetValueAsync(ct);
            // default_user is created on the node's first boot only (hence the password kept with the data);
            // loopback_users = none lets it in from any local address.
            ServerFiles.WritePrivate(config, $"default_user = {LocalRabbitMQResource.UserName}\ndefault_pass = {password}\nloopback_users = none\n");
            await File.WriteAllTextAsync(Path.Combine(folder, "enabled_plugins"), "[].\n", ct);
        });

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(rabbitmq, async (_, ct) => connectionString = await rabbitmq.ConnectionStringExpression.GetValueAsync(ct));
        var healthCheckKey = $"{name}_check";
        IConnection? connection = null;
        builder.Services.AddHealthChecks().AddRabbitMQ(async _ =>
            connection ??= await new ConnectionFactory { Uri = new Uri(connectionString ?? throw new InvalidOperationException("the connection string is not known yet")) }
                .CreateConnectionAsync(), healthCheckKey);

        // One node name per data folder: the node's database (mnesia) is kept under it.
        var nodeName = "wave-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(folder)))[..12] + "@localhost";
        var node = builder.AddResource(rabbitmq);
        var epmd = builder.AddResource(new LocalEpmdResource($"{name}-epmd", ServerFiles.Require("epmd", "erlang-base"), folder))
            .WithEndpoint(name: "tcp", scheme: "tcp", isProxied: false)
            .WithArgs(context =>
            {
                context.Args.Add("-port");
                context.Args.Add(((LocalEpmdResource)context.Resource).PrimaryEndpoint.Property(EndpointProperty.TargetPort));
                context.Args.Add("-address");
                context.Args.Add("127.0.0.1");
            })
            .WithIconName("PlugConnected")
            .WithParentRelationship(node)
            .ExcludeFromManifest();
        var epmdCheck = $"{epmd.Resource.Name}_check";
        builder.Services.AddHealthChecks().Add(new(epmdCheck, _ => new TcpHealthCheck(epmd.Resource.PrimaryEndpoint), null, null));
        epmd.WithHealthCheck(epmdCheck);

        return node
            .WithEndpoint(name: LocalRabbitMQResource.PrimaryEndpointName, scheme: "tcp", isProxied: false)
            .WithEndpoint(name: LocalRabbitMQResource.DistributionEndpointName, scheme: "tcp", isProxied: false)
            .WithEnvironment(context =>
            {
                var env = context.EnvironmentVariables;
                env["HOME"] = folder; // the Erlang cookie is written there
                env["ERL_EPMD_PORT"] = epmd.Resource.PrimaryEndpoint.Property(EndpointProperty.TargetPort);
                env["RABBITMQ_NODENAME"] = nodeName;
                env["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1";
                env["RABBITMQ_NODE_PORT"] = rabbitmq.PrimaryEndpoint.Property(EndpointProperty.TargetPort);
                env["RABBITMQ_DIST_PORT"] = rabbitmq.DistributionEndpoint.Property(EndpointProperty.TargetPort);
                // The node's distribution port on loopback too (Erlang listens on every interface otherwise).
                env["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-kernel inet_dist_use_interface {127,0,0,1}";
                env["RABBITMQ_MNESIA_BASE"] = Path.Combine(folder, "mnesia");
                env["RABBITMQ_LOG_BASE"] = Path.Combine(folder, "log");
                env["RABBITMQ_CONFIG_FILE"] = config;
                env["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(folder, "enabled_plugins");
                env["RABBITMQ_LOGS"] = "-";
                // The script then execs the Erlang VM (no shell in between), which stops gracefully on SIGTERM.
                env["RUNNING_UNDER_SYSTEMD"] = "true";
            })
            .WaitFor(epmd)
            .WithIconName("Mailbox")
            .WithHealthCheck(healthCheckKey)
            .ExcludeFromManifest();
    }
}
