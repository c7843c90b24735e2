// The application model, as an Aspire AppHost declares it. Without arguments it runs embedded (everything in this
// process on http://localhost:9090); `--distributed` (or any ConnectionStrings__* variable) starts the backing
// services and the three services as processes; `--publisher manifest|kubernetes --output-path X` writes it out.
using Wave.AppHost.Model;

var builder = DistributedApplication.CreateBuilder(args);

var redis = builder.AddRedis("redis");
var postgres = builder.AddPostgres("postgres").WithDatabase("wave");
var rabbitmq = builder.AddRabbitMQ("rabbitmq");

var registryProxy = builder.AddProject<Projects.Wave_RegistryProxy>("registry-proxy")
    .WithReference(redis)
    .WithReference(postgres);

builder.AddProject<Projects.Wave_Api>("api")
    .WithReference(redis)
    .WithReference(postgres)
    .WithReference(rabbitmq)
    .WithReference(registryProxy);

builder.AddProject<Projects.Wave_Builder>("builder")
    .WithReference(redis)
    .WithReference(postgres)
    .WithReference(rabbitmq);

return await builder.Build().RunAsync();
