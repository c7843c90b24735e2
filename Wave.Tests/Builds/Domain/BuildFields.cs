using System.Text;

using Wave.Core.Builds;

namespace Wave.Tests.Builds.Domain;

/// <summary>Request fields and options shared by the build domain tests.</summary>
internal static class BuildFields
{
    public const string Repository = "localhost:5000/wave/build";

    public static readonly BuildOptions Options = new() { DefaultBuildRepository = Repository };

    public static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    public static BuildRequestFields Dockerfile(string dockerfile) => new() { ContainerFile = Base64(dockerfile) };

    public static BuildRequestFields Conda(params string[] entries) =>
        new() { Packages = new PackagesFields { Type = "CONDA", Entries = entries, Channels = ["conda-forge", "bioconda"] } };

    public static BuildPlan Plan(BuildRequestFields fields, BuildOptions? options = null) => BuildPlanner.Plan(fields, options ?? Options);

    public static BuildRequestError Error(BuildRequestFields fields, BuildOptions? options = null)
    {
        Assert.False(BuildPlanner.TryPlan(fields, options ?? Options, out var plan, out var error), $"expected an error, got a plan for {plan?.TargetImage}");
        return error;
    }
}
