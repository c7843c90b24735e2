using System.Runtime.CompilerServices;

namespace Wave.Tests.Builds.Domain;

/// <summary>
/// Expected texts kept in Golden/*.txt next to this file, compared exactly. To re-record after an intended change,
/// run the tests with WAVE_RECORD_GOLDEN=1 and review the diff of the files.
/// </summary>
internal static class Golden
{
    public static void AssertMatches(string name, string actual, [CallerFilePath] string callerPath = "")
    {
        var path = Path.Combine(Path.GetDirectoryName(callerPath)!, "Golden", name);
        if (Environment.GetEnvironmentVariable("WAVE_RECORD_GOLDEN") == "1")
        {
            File.WriteAllText(path, actual);
        }
        Assert.True(File.Exists(path), $"golden file {path} is missing; the actual text is:\n{actual}");
        Assert.Equal(File.ReadAllText(path), actual);
    }
}
