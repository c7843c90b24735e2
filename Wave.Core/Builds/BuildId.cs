using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Wave.Core.Builds;

/// <summary>A build attempt's id: <c>bd-&lt;containerId&gt;_&lt;attempt&gt;</c>, attempts counting from 1.</summary>
public static class BuildId
{
    public const string Prefix = "bd-";

    public static string Format(string containerId, int attempt)
    {
        if (!Builds.ContainerId.IsValid(containerId))
        {
            throw new ArgumentException($"'{containerId}' is not a container id (16 lower-case hex digits)", nameof(containerId));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        return string.Create(CultureInfo.InvariantCulture, $"{Prefix}{containerId}_{attempt}");
    }

    /// <summary>Splits a build id into its container id and attempt; false for anything else.</summary>
    public static bool TryParse(string? buildId, [NotNullWhen(true)] out string? containerId, out int attempt)
    {
        containerId = null;
        attempt = 0;
        if (buildId is null || !buildId.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }
        var rest = buildId[Prefix.Length..];
        var underscore = rest.IndexOf('_');
        if (underscore < 0
            || !Builds.ContainerId.IsValid(rest[..underscore])
            || !int.TryParse(rest[(underscore + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out attempt)
            || attempt < 1
            || rest[(underscore + 1)..].StartsWith('0'))
        {
            attempt = 0;
            return false;
        }
        containerId = rest[..underscore];
        return true;
    }
}
