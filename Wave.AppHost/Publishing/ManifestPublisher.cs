using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

using Wave.AppHost.Model;

namespace Wave.AppHost.Publishing;

/// <summary>
/// Aspire's deployment manifest (https://json.schemastore.org/aspire-8.0.json): container.v0 for the backing services,
/// parameter.v0 for their generated passwords, value.v0 for the database and project.v0 for the services. Project
/// paths are relative to the manifest's folder, which is expected one level below the repository root.
/// </summary>
public static class ManifestPublisher
{
    public const string Schema = "https://json.schemastore.org/aspire-8.0.json";

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void Write(ApplicationModel model, string outputPath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outputPath))!);
        File.WriteAllText(outputPath, Render(model));
    }

    public static string Render(ApplicationModel model)
    {
        var resources = new JsonObject();
        foreach (var backing in model.BackingResources)
        {
            resources[backing.Name] = Container(backing);
            if (backing.PasswordParameter is { } parameter)
            {
                resources[parameter] = GeneratedPassword(parameter);
            }
            if (backing.Database is { } database)
            {
                resources[database] = new JsonObject
                {
                    ["type"] = "value.v0",
                    ["connectionString"] = $"{{{backing.Name}.connectionString}};Database={database}",
                };
            }
        }
        foreach (var project in model.Projects)
        {
            resources[project.Name] = Project(project);
        }
        var manifest = new JsonObject { ["$schema"] = Schema, ["resources"] = resources };
        return manifest.ToJsonString(Options).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
    }

    private static JsonObject Container(BackingResource resource)
    {
        var container = new JsonObject
        {
            ["type"] = "container.v0",
            ["connectionString"] = ConnectionStrings.ManifestExpression(resource),
            ["image"] = resource.Image,
        };
        var args = ContainerSpec.Args(resource);
        if (args.Count > 0)
        {
            container["args"] = new JsonArray([.. args.Select(a => JsonValue.Create(a))]);
        }
        var env = ContainerSpec.Environment(resource, password => $"{{{password}.value}}");
        if (env.Count > 0)
        {
            container["env"] = ToObject(env);
        }
        container["volumes"] = new JsonArray(new JsonObject
        {
            ["name"] = ContainerSpec.VolumeName(resource),
            ["target"] = resource.DataPath,
            ["readOnly"] = false,
        });
        container["bindings"] = new JsonObject
        {
            ["tcp"] = new JsonObject
            {
                ["scheme"] = "tcp",
                ["protocol"] = "tcp",
                ["transport"] = "tcp",
                ["targetPort"] = resource.TargetPort,
            },
        };
        return container;
    }

    private static JsonObject GeneratedPassword(string name) => new()
    {
        ["type"] = "parameter.v0",
        ["value"] = $"{{{name}.inputs.value}}",
        ["inputs"] = new JsonObject
        {
            ["value"] = new JsonObject
            {
                ["type"] = "string",
                ["secret"] = true,
                ["default"] = new JsonObject
                {
                    ["generate"] = new JsonObject { ["minLength"] = 22, ["special"] = false },
                },
            },
        },
    };

    private static JsonObject Project(ProjectResource project)
    {
        var env = new List<KeyValuePair<string, string>>(ServiceEnvironment.Telemetry(project))
        {
            new("ASPNETCORE_FORWARDEDHEADERS_ENABLED", "true"),
            new("HTTP_PORTS", $"{{{project.Name}.bindings.http.targetPort}}"),
        };
        foreach (var reference in project.References)
        {
            env.Add(reference.Target switch
            {
                BackingResource backing => new(ServiceEnvironment.ConnectionStringKey(reference.ConnectionName),
                    $"{{{backing.Database ?? backing.Name}.connectionString}}"),
                ProjectResource target => new(ServiceEnvironment.ServiceKey(target.Name), $"{{{target.Name}.bindings.http.url}}"),
                _ => throw new InvalidOperationException($"unknown reference {reference}"),
            });
        }
        return new JsonObject
        {
            ["type"] = "project.v0",
            ["path"] = "../" + project.ProjectPath,
            ["env"] = ToObject(env),
            ["bindings"] = new JsonObject
            {
                ["http"] = new JsonObject
                {
                    ["scheme"] = "http",
                    ["protocol"] = "tcp",
                    ["transport"] = "http",
                    ["external"] = project.Name != "builder",
                },
            },
        };
    }

    private static JsonObject ToObject(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        var result = new JsonObject();
        foreach (var (key, value) in pairs)
        {
            result[key] = value;
        }
        return result;
    }
}
