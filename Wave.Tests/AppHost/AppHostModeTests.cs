using System.Collections;

using Wave.AppHost.Model;

namespace Wave.Tests.AppHost;

/// <summary>Which mode an invocation selects, from its arguments and environment alone.</summary>
public sealed class AppHostModeTests
{
    private static AppHostMode Select(string[] args, Dictionary<string, string?>? environment = null) =>
        AppHostMode.Select(args, new Hashtable(environment ?? []), "/work/repo");

    [Fact]
    public void No_arguments_and_no_connection_strings_is_embedded_with_the_arguments_untouched()
    {
        var mode = Assert.IsType<AppHostMode.Embedded>(Select(["--urls", "http://127.0.0.1:5000"]));
        Assert.Equal(["--urls", "http://127.0.0.1:5000"], mode.Args);
        Assert.IsType<AppHostMode.Embedded>(Select([], new() { ["ConnectionStrings__redis"] = "" }));
    }

    [Fact]
    public void Distributed_flag_or_a_connection_string_selects_run_mode_with_the_data_folder()
    {
        var flagged = Assert.IsType<AppHostMode.Distributed>(Select(["--distributed", "--urls", "http://127.0.0.1:5000"]));
        Assert.Equal(["--urls", "http://127.0.0.1:5000"], flagged.Args);
        Assert.Equal("/work/repo/.wave", flagged.DataDirectory);

        var byConnection = Assert.IsType<AppHostMode.Distributed>(Select([], new() { ["ConnectionStrings__redis"] = "127.0.0.1:6379" }));
        Assert.Equal("/work/repo/.wave", byConnection.DataDirectory);

        var withData = Assert.IsType<AppHostMode.Distributed>(Select(["--distributed", "--data-dir", "state"]));
        Assert.Equal("/work/repo/state", withData.DataDirectory);
        Assert.Empty(withData.Args);

        var fromEnvironment = Assert.IsType<AppHostMode.Distributed>(Select(["--distributed"], new() { ["WAVE_APPHOST_DATA"] = "/data/wave" }));
        Assert.Equal("/data/wave", fromEnvironment.DataDirectory);
    }

    [Fact]
    public void Publisher_selects_publish_mode_and_refuses_unknown_publishers()
    {
        var manifest = Assert.IsType<AppHostMode.Publish>(Select(["--publisher", "manifest", "--output-path", "aspire-manifest/aspire-manifest.json"]));
        Assert.Equal(("manifest", "/work/repo/aspire-manifest/aspire-manifest.json"), (manifest.Publisher, manifest.OutputPath));
        Assert.IsType<AppHostMode.Publish>(Select(["--publisher", "kubernetes", "--output-path", "k8s"], new() { ["ConnectionStrings__redis"] = "x" }));
        Assert.Contains("helm", Assert.Throws<ArgumentException>(() => Select(["--publisher", "helm", "--output-path", "x"])).Message, StringComparison.Ordinal);
        Assert.Contains("--output-path", Assert.Throws<ArgumentException>(() => Select(["--publisher", "manifest"])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Projects_start_after_the_projects_they_reference_and_get_aspires_environment()
    {
        var builder = DistributedApplication.CreateBuilder([]);
        var redis = builder.AddRedis("redis");
        var postgres = builder.AddPostgres("postgres").WithDatabase("wave");
        var api = builder.AddProject<Projects.Wave_Api>("api");
        var proxy = builder.AddProject<Projects.Wave_RegistryProxy>("registry-proxy").WithReference(redis).WithReference(postgres);
        api.WithReference(redis).WithReference(proxy);
        var model = builder.BuildModel();

        Assert.Equal(["registry-proxy", "api"], model.ProjectsInStartOrder().Select(p => p.Name));
        var environment = Wave.AppHost.Orchestration.Orchestrator.Environment(model.Projects.Single(p => p.Name == "api"),
            "http://127.0.0.1:7001", "http://127.0.0.1:18888",
            new Dictionary<string, string> { ["redis"] = "127.0.0.1:6379" },
            new Dictionary<string, string> { ["registry-proxy"] = "http://127.0.0.1:7002" });
        Assert.Equal("127.0.0.1:6379", environment["ConnectionStrings__redis"]);
        Assert.Equal("http://127.0.0.1:7002", environment["services__registry-proxy__http__0"]);
        Assert.Equal("api", environment["OTEL_SERVICE_NAME"]);
        Assert.Equal("http://127.0.0.1:18888", environment["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        Assert.Equal("http://127.0.0.1:7001", environment["ASPNETCORE_URLS"]);
        Assert.False(environment.ContainsKey("ConnectionStrings__postgres"));

        var postgresServer = model.BackingResources.Single(b => b.Name == "postgres");
        Assert.Equal("Host=127.0.0.1;Port=5432;Username=postgres;Database=wave", ConnectionStrings.ForServer(postgresServer, "127.0.0.1", 5432, null));
        Assert.Throws<InvalidOperationException>(() => builder.AddRedis("redis"));
    }
}
