using System.Text.RegularExpressions;

namespace Wave.Builder.Kubernetes;

/// <summary>What the builder's log says about the digest of the pushed image.</summary>
internal static partial class BuildkitLog
{
    // BuildKit's plain progress: "#9 pushing manifest for reg/repo:tag@sha256:…", "#9 exporting manifest list sha256:…",
    // "#9 exporting manifest sha256:…". The pushed reference is the surest; a list beats a single manifest.
    [GeneratedRegex(@"pushing manifest for \S+@(sha256:[a-f0-9]{64})")]
    private static partial Regex PushedManifest();

    [GeneratedRegex(@"exporting manifest list (sha256:[a-f0-9]{64})")]
    private static partial Regex ExportedList();

    [GeneratedRegex(@"exporting manifest (sha256:[a-f0-9]{64})")]
    private static partial Regex ExportedManifest();

    /// <summary>How sure a line is about the image digest: 3 pushed, 2 index, 1 manifest, 0 says nothing.</summary>
    public static (int Rank, string? Digest) DigestIn(string line)
    {
        if (PushedManifest().Match(line) is { Success: true } pushed)
        {
            return (3, pushed.Groups[1].Value);
        }
        if (ExportedList().Match(line) is { Success: true } list)
        {
            return (2, list.Groups[1].Value);
        }
        return ExportedManifest().Match(line) is { Success: true } manifest ? (1, manifest.Groups[1].Value) : (0, null);
    }
}
