using Wave.Core.Persistence;
using Wave.Core.Requests;

namespace Wave.Api.Records;

/// <summary>The container status API's view of a build, read from the build store.</summary>
public sealed class BuildStoreContainerBuildStatus(IBuildStore builds) : IContainerBuildStatus
{
    public async Task<ContainerBuildState?> FindAsync(string buildId, CancellationToken cancellationToken)
    {
        var build = await builds.FindAsync(buildId, cancellationToken);
        if (build is null)
        {
            return null;
        }
        var completed = build.Status == BuildStatus.Completed;
        return new ContainerBuildState(build.BuildId, completed, completed ? build.Succeeded : null, build.FailureReason, build.CreatedAt,
            completed ? build.Duration : null, Running: build.Status == BuildStatus.Running);
    }
}
