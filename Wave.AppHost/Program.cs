// Wave's application model, on Aspire. Two topologies (Wave:Topology, see the README):
//   embedded (the default): one Wave process, Wave.Api with Wave:Embedded=true (the REST API, the /v2/ registry
//     endpoints and the build worker, with in-memory, SQLite and channel state) on a fixed port;
//   distributed: Redis, Postgres and RabbitMQ, then the three services, each started once what it waits for is healthy.
// Publishing (`--publisher manifest`, or the publish-kubernetes step) writes the distributed topology with Aspire's
// container resources: it is what a deployment runs.
using Wave.AppHost.Extensions;
using Wave.AppHost.Kubernetes;
using Wave.AppHost.LocalServers;
using Wave.AppHost.Settings;

var builder = DistributedApplication.CreateBuilder(args);
var settings = AppHostSettings.From(builder.Configuration, builder.AppHostDirectory);

if (builder.ExecutionContext.IsRunMode && settings.Topology == WaveTopology.Embedded)
{
    builder.AddProject<Projects.Wave_Api>("wave")
        .WithEnvironment("Wave__Embedded", "true")
        .WithEnvironment("Wave__DataDirectory", Path.Combine(settings.DataDirectory, "wave"))
        // A fixed port, not behind DCP's proxy: the image names Wave hands out carry it.
        .WithEndpoint("http", endpoint =>
        {
            endpoint.Port = settings.Port;
            endpoint.TargetPort = settings.Port;
            endpoint.IsProxied = false;
        })
        .WithHttpHealthCheck("/health")
        .WithReadyMessage("Wave is running: the API and the registry at {0}");
}
else
{
    var backing = builder.ExecutionContext.IsPublishMode ? BackingServices.Containers : await settings.ResolveBackingServicesAsync(builder.Configuration);
    IResourceBuilder<IResourceWithConnectionString> redis, database, rabbitmq;
    if (backing == BackingServices.Containers)
    {
        // Plain TCP even where a development certificate exists (Aspire would switch Redis to TLS): as in the cluster.
#pragma warning disable ASPIRECERTIFICATES001
        redis = builder.AddRedis("redis").WithDataVolume("wave-redis-data").WithoutHttpsCertificate();
#pragma warning restore ASPIRECERTIFICATES001
        database = builder.AddPostgres("postgres").WithDataVolume("wave-postgres-data").AddDatabase("wave");
        rabbitmq = builder.AddRabbitMQ("rabbitmq").WithDataVolume("wave-rabbitmq-data");
    }
    else
    {
        redis = builder.AddLocalRedis("redis", settings.DataDirectory);
        database = builder.AddLocalPostgres("postgres", settings.DataDirectory).AddDatabase("wave");
        rabbitmq = builder.AddLocalRabbitMQ("rabbitmq", settings.DataDirectory);
    }

    var registryProxy = builder.AddProject<Projects.Wave_RegistryProxy>("registry-proxy")
        .WithReference(redis).WaitFor(redis)
        .WithReference(database).WaitFor(database)
        .WithDataDirectory(settings)
        .WithExternalHttpEndpoints()
        .WithHttpHealthCheck("/health")
        .WithReadyMessage("Wave's registry (/v2/) is at {0}")
        // The proxy keeps verified upstream layers on the pod's disk, a little under the volume's limit (which evicts the pod).
        .WithKubernetesScratchVolume("blob-cache", "/var/cache/wave/blobs", "10Gi")
        .WithKubernetesEnvironment("Wave__Proxy__BlobCache__Directory", "/var/cache/wave/blobs")
        .WithKubernetesEnvironment("Wave__Proxy__BlobCache__MaxBytes", (9L * 1024 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture));

    builder.AddProject<Projects.Wave_Api>("api")
        .WithReference(redis).WaitFor(redis)
        .WithReference(database).WaitFor(database)
        .WithReference(rabbitmq).WaitFor(rabbitmq)
        .WithReference(registryProxy)
        .WithDataDirectory(settings)
        .WithExternalHttpEndpoints()
        .WithHttpHealthCheck("/health")
        .WithReadyMessage("Wave's API is at {0}");

    builder.AddProject<Projects.Wave_Builder>("builder")
        .WithReference(redis).WaitFor(redis)
        .WithReference(database).WaitFor(database)
        .WithReference(rabbitmq).WaitFor(rabbitmq)
        .WithDataDirectory(settings)
        .WithHttpHealthCheck("/health")
        // In a cluster the builder runs each build as a Job in the build namespace, under a service account of its own.
        .WithKubernetesServiceAccount(KubernetesNames.BuilderServiceAccount, KubernetesNames.BuildNamespace, BuilderRole.Rules)
        .WithKubernetesEnvironment("Wave__Build__Backend", "kubernetes")
        .WithKubernetesEnvironment("Wave__Build__Kubernetes__Connection", "in-cluster")
        .WithKubernetesEnvironment("Wave__Build__Kubernetes__Namespace", KubernetesNames.BuildNamespace);
}

builder.AddKubernetesPublishing();

builder.Build().Run();
