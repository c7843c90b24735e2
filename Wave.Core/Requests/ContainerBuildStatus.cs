namespace Wave.Core.Requests;

/// <summary>
/// Where the build behind a container request stands, as the container status API reports it: queued
/// (neither <see cref="Running"/> nor <see cref="Completed"/>), running, or completed with its outcome.
/// <see cref="Duration"/> is known once it completed.
/// </summary>
public sealed record ContainerBuildState(string BuildId, bool Completed, bool? Succeeded, string? Reason, DateTimeOffset StartedAt, TimeSpan? Duration, bool Running = false);

/// <summary>
/// The seam between container requests and builds: the status API asks it about a record's build id. Implemented over
/// the build store; a build service may register its own.
/// </summary>
public interface IContainerBuildStatus
{
    /// <summary>The build's state, or null when no such build is known.</summary>
    Task<ContainerBuildState?> FindAsync(string buildId, CancellationToken cancellationToken);
}
