using System.Globalization;
using System.Text.RegularExpressions;

using Wave.Tests.Infrastructure;

namespace Wave.Bench;

/// <summary>Throughput and latency of one load run.</summary>
public sealed record LoadResult(double RequestsPerSecond, double P50Ms, double P99Ms, long Requests, long Errors)
{
    public static LoadResult FromLatencies(List<double> milliseconds, TimeSpan elapsed, long errors)
    {
        milliseconds.Sort();
        double At(double q) => milliseconds.Count == 0 ? double.NaN : milliseconds[Math.Min(milliseconds.Count - 1, (int)(q * milliseconds.Count))];
        return new LoadResult(milliseconds.Count / elapsed.TotalSeconds, At(0.50), At(0.99), milliseconds.Count, errors);
    }
}

/// <summary>Runs wrk (a separate process, so the load generator never shares Wave's runtime) and reads its report.</summary>
public static partial class Wrk
{
    public static async Task<LoadResult> RunAsync(string url, int connections, TimeSpan duration, string luaScript, string workDirectory)
    {
        var wrk = Requirements.Binary("wrk", "wrk");
        var script = Path.Combine(workDirectory, $"wrk-{Guid.NewGuid():N}.lua");
        await File.WriteAllTextAsync(script, luaScript);
        var threads = Math.Min(connections, 2);
        var output = await TestProcess.RunAsync(wrk,
            ["-t", threads.ToString(CultureInfo.InvariantCulture), "-c", connections.ToString(CultureInfo.InvariantCulture),
             "-d", $"{(int)duration.TotalSeconds}s", "--latency", "-s", script, url],
            duration + TimeSpan.FromSeconds(30));
        var rps = double.Parse(Rps().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var requests = long.Parse(Requests().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var non2xx = Non2xx().Match(output) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        var socketErrors = SocketErrors().Match(output) is { Success: true } s
            ? s.Groups.Values.Skip(1).Sum(g => long.Parse(g.Value, CultureInfo.InvariantCulture)) : 0;
        return new LoadResult(rps, Percentile(output, "50%"), Percentile(output, "99%"), requests, non2xx + socketErrors);
    }

    /// <summary>A wrk script sending GETs with the manifest Accept header a registry client sends.</summary>
    public static string ManifestGet() => """
        wrk.method = "GET"
        wrk.headers["Accept"] = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"
        """;

    public static string JsonPost(string body) => $$"""
        wrk.method = "POST"
        wrk.headers["Content-Type"] = "application/json"
        wrk.body = [==[{{body}}]==]
        """;

    private static double Percentile(string output, string label)
    {
        var match = Regex.Match(output, $@"^\s*{Regex.Escape(label)}\s+([\d.]+)(us|ms|s)\s*$", RegexOptions.Multiline);
        if (!match.Success)
        {
            return double.NaN;
        }
        var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch { "us" => value / 1000, "s" => value * 1000, _ => value };
    }

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex Rps();

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex Requests();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
    private static partial Regex Non2xx();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketErrors();
}
