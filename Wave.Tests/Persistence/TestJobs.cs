using Wave.Core.Builds;

namespace Wave.Tests.Persistence;

internal static class TestJobs
{
    public static BuildJob Job(int n, string? containerId = null)
    {
        var id = containerId ?? $"{n:x16}";
        return new BuildJob
        {
            BuildId = $"bd-{id}_1",
            ContainerId = id,
            TargetImage = $"localhost:5000/wave/build:{id}",
            Dockerfile = $"FROM busybox\nRUN echo {n} > /n.txt\n",
            ContextFiles = new Dictionary<string, string> { ["conda.yml"] = "dependencies: [samtools]\n" },
            Platform = "linux/amd64",
            CreatedAt = new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero).AddSeconds(n),
            Timeout = TimeSpan.FromMinutes(3),
        };
    }

    public static string UniqueQueueName() => $"wave.builds.test-{Guid.NewGuid():N}";

    /// <summary>Waits for <paramref name="condition"/>, failing with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task EventuallyAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out after {timeout.TotalSeconds:0}s waiting for: {what}");
            }
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }
}
