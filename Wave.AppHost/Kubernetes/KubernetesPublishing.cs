#pragma warning disable ASPIREPIPELINES001 // Aspire's publishing pipeline is marked experimental

using System.Security.Cryptography;

using Aspire.Hosting.Pipelines;

using k8s;

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Wave.AppHost.Kubernetes;

/// <summary>
/// The <c>publish-kubernetes</c> step of Aspire's publishing pipeline: writes <see cref="KubernetesManifests"/> for the
/// model to <c>--output-path</c>, one file per resource, with a kustomization that generates the Secret.
/// <c>--publisher kubernetes</c> selects it too, as <c>--publisher manifest</c> selects Aspire's manifest step.
/// </summary>
public static class KubernetesPublishing
{
    public const string StepName = "publish-kubernetes";

    public static IDistributedApplicationBuilder AddKubernetesPublishing(this IDistributedApplicationBuilder builder)
    {
        if (string.Equals(builder.Configuration["Publishing:Publisher"], "kubernetes", StringComparison.OrdinalIgnoreCase)
            && string.IsNullOrEmpty(builder.Configuration["Pipeline:Step"]))
        {
            builder.Configuration["Pipeline:Step"] = StepName;
        }
        builder.Pipeline.AddStep(new PipelineStep
        {
            Name = StepName,
            Description = "Writes the application model as Kubernetes objects with a kustomization (kubectl apply -k).",
            Action = async context =>
            {
                var output = context.Services.GetRequiredService<IOptions<PipelineOptions>>().Value.OutputPath
                    ?? throw new DistributedApplicationException("the Kubernetes step needs --output-path DIR");
                var executionContext = context.Services.GetRequiredService<DistributedApplicationExecutionContext>();
                var rendered = await KubernetesManifests.RenderAsync(context.Model, executionContext, context.CancellationToken);
                var written = Write(rendered, Path.GetFullPath(output));
                context.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Wave.AppHost.Kubernetes")
                    .LogInformation("Published {Count} Kubernetes files to: {Output}", written, Path.GetFullPath(output));
            },
        });
        return builder;
    }

    /// <summary>
    /// Writes one file per <see cref="KubernetesManifests.ManifestFile"/>, the kustomization and a .gitignore.
    /// <c>passwords.env</c> (the Secret's source) gets a random alphanumeric password for every secret parameter it
    /// lacks and keeps the ones it has: it is a secret, kept out of version control, and rewriting it would lock the
    /// data out.
    /// </summary>
    private static int Write(KubernetesManifests.Output rendered, string folder)
    {
        Directory.CreateDirectory(folder);
        foreach (var file in rendered.Files)
        {
            File.WriteAllText(Path.Combine(folder, file.Name), string.Join("---\n", file.Objects.Select(o => KubernetesYaml.Serialize(o).TrimEnd('\n') + "\n")));
        }
        var passwordsPath = Path.Combine(folder, KubernetesNames.PasswordsFile);
        var passwords = File.Exists(passwordsPath) ? File.ReadAllLines(passwordsPath).Where(l => l.Contains('=', StringComparison.Ordinal)).ToList() : [];
        foreach (var secret in rendered.Secrets)
        {
            if (!passwords.Any(l => l.StartsWith(secret.Name + "=", StringComparison.Ordinal)))
            {
                passwords.Add($"{secret.Name}={RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 24)}");
            }
        }
        File.WriteAllLines(passwordsPath, passwords);
        File.WriteAllText(Path.Combine(folder, ".gitignore"), KubernetesNames.PasswordsFile + "\n");
        File.WriteAllText(Path.Combine(folder, "kustomization.yaml"), Kustomization(rendered));
        return rendered.Files.Count + 1;
    }

    private static string Kustomization(KubernetesManifests.Output rendered) =>
        string.Join('\n',
        [
            "apiVersion: kustomize.config.k8s.io/v1beta1",
            "kind: Kustomization",
            "resources:",
            .. rendered.Files.Select(f => $"- {f.Name}"),
            "secretGenerator:",
            $"- name: {KubernetesNames.PasswordsSecret}",
            $"  namespace: {KubernetesNames.Namespace}",
            "  envs:",
            $"  - {KubernetesNames.PasswordsFile}",
            "images:",
            .. rendered.Images.SelectMany(i => new[] { $"- name: {i}", "  newTag: latest" }),
            "",
        ]);
}
