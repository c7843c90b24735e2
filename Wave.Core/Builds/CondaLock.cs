namespace Wave.Core.Builds;

/// <summary>The resolved Conda lock a Conda build prints into its log between two marker lines.</summary>
public static class CondaLock
{
    public const string StartMarker = ">> CONDA_LOCK_START";
    public const string EndMarker = "<< CONDA_LOCK_END";

    /// <summary>
    /// The lines between the last start marker line and the end marker line after it (joined with '\n', with a final
    /// newline), or null when the log holds no complete lock. Build tools prefix output lines (e.g. a step counter),
    /// so a marker is found anywhere in its line, and an echoed command line containing the markers is not mistaken
    /// for them because the marker must end the line.
    /// </summary>
    public static string? Extract(string log)
    {
        var lines = log.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var start = Array.FindLastIndex(lines, line => line.TrimEnd().EndsWith(StartMarker, StringComparison.Ordinal));
        if (start < 0)
        {
            return null;
        }
        var end = Array.FindIndex(lines, start + 1, line => line.TrimEnd().EndsWith(EndMarker, StringComparison.Ordinal));
        if (end < 0)
        {
            return null;
        }
        var body = lines[(start + 1)..end];
        return body.Length == 0 ? "" : string.Join('\n', body) + "\n";
    }
}
