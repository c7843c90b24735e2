namespace Wave.Core.Builds;

/// <summary>Why a build request is refused: the request field at fault and the problem, phrased to follow the field name.</summary>
public sealed record BuildRequestError(string Field, string Problem)
{
    /// <summary>"<c>containerFile is not valid base64</c>": the field name, then the problem.</summary>
    public string Message => $"{Field} {Problem}";

    public override string ToString() => Message;
}

/// <summary>Thrown by <see cref="BuildPlanner.Plan"/> for a malformed request; carries the <see cref="BuildRequestError"/>.</summary>
public sealed class InvalidBuildRequestException(BuildRequestError error) : Exception(error.Message)
{
    public BuildRequestError Error { get; } = error;
}
