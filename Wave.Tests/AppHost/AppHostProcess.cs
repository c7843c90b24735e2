using Wave.Tests.Infrastructure;

namespace Wave.Tests.AppHost;

/// <summary>The AppHost as a user runs it: <c>dotnet Wave.AppHost.dll …</c> from the test's output folder.</summary>
internal static class AppHostProcess
{
    public static string Assembly
    {
        get
        {
            var path = Path.Combine(AppContext.BaseDirectory, "Wave.AppHost.dll");
            Assert.True(File.Exists(path), $"{path} is missing: the test project references Wave.AppHost, so the build puts it there");
            return path;
        }
    }

    /// <summary>The repository root (the folder holding Wave.sln), found upwards from the test's output folder.</summary>
    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Wave.sln")))
                {
                    return dir.FullName;
                }
            }
            throw new InvalidOperationException($"no Wave.sln above {AppContext.BaseDirectory}");
        }
    }

    public static Task<string> PublishAsync(string publisher, string outputPath) =>
        TestProcess.RunAsync("dotnet", [Assembly, "--publisher", publisher, "--output-path", outputPath], TimeSpan.FromMinutes(1),
            new Dictionary<string, string?> { ["ConnectionStrings__redis"] = null });
}
