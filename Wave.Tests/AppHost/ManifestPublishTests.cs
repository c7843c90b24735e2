using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Wave.Tests.AppHost;

/// <summary>The committed Aspire manifest is what the model publishes, and it is a well-formed manifest.</summary>
public sealed partial class ManifestPublishTests
{
    private static string CommittedManifest => Path.Combine(AppHostProcess.RepositoryRoot, "aspire-manifest", "aspire-manifest.json");

    [Fact]
    public async Task The_committed_manifest_is_what_the_model_publishes()
    {
        var output = Path.Combine(Directory.CreateTempSubdirectory("wave-manifest-").FullName, "aspire-manifest.json");
        await AppHostProcess.PublishAsync("manifest", output);

        var expected = await File.ReadAllTextAsync(CommittedManifest, TestContext.Current.CancellationToken);
        var actual = await File.ReadAllTextAsync(output, TestContext.Current.CancellationToken);
        Assert.True(expected == actual,
            "aspire-manifest/aspire-manifest.json no longer matches the model: regenerate it with " +
            "`dotnet run --project Wave.AppHost -- --publisher manifest --output-path aspire-manifest/aspire-manifest.json`\n" + actual);
    }

    [Fact]
    public async Task The_manifest_declares_the_backing_services_and_projects_with_their_references()
    {
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(CommittedManifest, TestContext.Current.CancellationToken))!;
        Assert.Equal("https://json.schemastore.org/aspire-8.0.json", manifest["$schema"]!.GetValue<string>());
        var resources = manifest["resources"]!.AsObject();

        foreach (var (name, port) in new[] { ("redis", 6379), ("postgres", 5432), ("rabbitmq", 5672) })
        {
            var container = resources[name]!;
            Assert.Equal("container.v0", container["type"]!.GetValue<string>());
            Assert.Contains($"{{{name}.bindings.tcp.host}}", container["connectionString"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Contains($"{{{name}.bindings.tcp.port}}", container["connectionString"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.False(string.IsNullOrEmpty(container["image"]!.GetValue<string>()));
            Assert.Equal(port, container["bindings"]!["tcp"]!["targetPort"]!.GetValue<int>());
            Assert.NotEmpty(container["volumes"]!.AsArray());
        }
        Assert.Equal("{redis.bindings.tcp.host}:{redis.bindings.tcp.port}", resources["redis"]!["connectionString"]!.GetValue<string>());
        foreach (var password in new[] { "postgres-password", "rabbitmq-password" })
        {
            var parameter = resources[password]!;
            Assert.Equal("parameter.v0", parameter["type"]!.GetValue<string>());
            Assert.True(parameter["inputs"]!["value"]!["secret"]!.GetValue<bool>());
            Assert.True(parameter["inputs"]!["value"]!["default"]!["generate"]!["minLength"]!.GetValue<int>() >= 16);
        }
        Assert.Equal("{postgres.connectionString};Database=wave", resources["wave"]!["connectionString"]!.GetValue<string>());

        var expectedReferences = new Dictionary<string, string[]>
        {
            ["api"] = ["ConnectionStrings__redis", "ConnectionStrings__postgres", "ConnectionStrings__rabbitmq", "services__registry-proxy__http__0"],
            ["registry-proxy"] = ["ConnectionStrings__redis", "ConnectionStrings__postgres"],
            ["builder"] = ["ConnectionStrings__redis", "ConnectionStrings__postgres", "ConnectionStrings__rabbitmq"],
        };
        foreach (var (name, references) in expectedReferences)
        {
            var project = resources[name]!;
            Assert.Equal("project.v0", project["type"]!.GetValue<string>());
            var path = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(CommittedManifest)!, project["path"]!.GetValue<string>()));
            Assert.True(File.Exists(path), $"{name}'s project path {path} does not exist");
            var env = project["env"]!.AsObject();
            Assert.Equal(references.Order(StringComparer.Ordinal),
                env.Select(e => e.Key).Where(k => k.StartsWith("ConnectionStrings__", StringComparison.Ordinal) || k.StartsWith("services__", StringComparison.Ordinal))
                    .Order(StringComparer.Ordinal));
            Assert.Equal(name, env["OTEL_SERVICE_NAME"]!.GetValue<string>());
            Assert.Equal("{redis.connectionString}", env["ConnectionStrings__redis"]!.GetValue<string>());
            Assert.Equal("http", project["bindings"]!["http"]!["scheme"]!.GetValue<string>());
        }
        Assert.Equal("{registry-proxy.bindings.http.url}", resources["api"]!["env"]!["services__registry-proxy__http__0"]!.GetValue<string>());

        // Every placeholder names a resource of the manifest.
        foreach (Match match in Placeholder().Matches(manifest.ToJsonString()))
        {
            Assert.True(resources.ContainsKey(match.Groups[1].Value), $"{match.Value} names no resource");
        }
    }

    [GeneratedRegex(@"\{([a-z0-9-]+)\.(?:bindings|connectionString|value|inputs)")]
    private static partial Regex Placeholder();
}
