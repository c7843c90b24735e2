using Wave.AppHost.Embedded;
using Wave.AppHost.Orchestration;
using Wave.AppHost.Publishing;

namespace Wave.AppHost.Model;

/// <summary>The built application: one model, consumed by whichever mode the arguments select.</summary>
public sealed class DistributedApplication(ApplicationModel model, string[] args)
{
    public ApplicationModel Model { get; } = model;

    public static DistributedApplicationBuilder CreateBuilder(string[] args) => DistributedApplicationBuilder.Create(args);

    public async Task<int> RunAsync()
    {
        var mode = AppHostMode.Select(args, Environment.GetEnvironmentVariables(), Environment.CurrentDirectory);
        switch (mode)
        {
            case AppHostMode.Publish { Publisher: "manifest" } publish:
                ManifestPublisher.Write(Model, publish.OutputPath);
                Console.WriteLine($"Published manifest to: {publish.OutputPath}");
                return 0;
            case AppHostMode.Publish publish:
                KubernetesPublisher.Write(Model, publish.OutputPath);
                Console.WriteLine($"Published Kubernetes objects to: {publish.OutputPath}");
                return 0;
            case AppHostMode.Distributed distributed:
                return await DistributedHost.RunAsync(Model, distributed);
            case AppHostMode.Embedded embedded:
                await EmbeddedHost.RunAsync(embedded.Args);
                return 0;
            default:
                throw new InvalidOperationException($"unknown mode {mode}");
        }
    }
}
