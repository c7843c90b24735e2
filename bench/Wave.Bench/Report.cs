using System.Globalization;
using System.Text;

namespace Wave.Bench;

public sealed record BenchOptions(string WaveApiDll, TimeSpan Duration, int Tokens, int ConcurrentPulls, int PullRounds, bool Docker, string Output, IReadOnlySet<string>? Only, bool Hold)
{
    public static readonly IReadOnlyList<string> Sections = ["manifest", "post", "blob", "pull", "memory", "build", "services", "distributed"];

    /// <summary>Whether a section runs: all do unless <c>--only a,b</c> names some (for iterating on one figure).</summary>
    public bool Runs(string section) => Only is null || Only.Contains(section);

    public static BenchOptions Parse(string[] args)
    {
        if (args.Length == 0 || !File.Exists(args[0]))
        {
            throw new ArgumentException("usage: Wave.Bench <Wave.Api.dll> [--duration S] [--tokens N] [--concurrent-pulls N] [--pulls ROUNDS] [--no-docker] [--out FILE] [--only manifest,post,blob,pull,memory,build,services,distributed] [--before DIR] [--hold]");
        }
        string? Value(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        return new BenchOptions(
            Path.GetFullPath(args[0]),
            TimeSpan.FromSeconds(int.Parse(Value("--duration") ?? "5", CultureInfo.InvariantCulture)),
            int.Parse(Value("--tokens") ?? "20000", CultureInfo.InvariantCulture),
            int.Parse(Value("--concurrent-pulls") ?? "1000", CultureInfo.InvariantCulture),
            int.Parse(Value("--pulls") ?? "15", CultureInfo.InvariantCulture),
            !args.Contains("--no-docker"),
            Value("--out") ?? "bench/results/latest.md",
            Value("--only") is { } only ? only.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet() : null,
            args.Contains("--hold"));
    }
}

/// <summary>Medians of throughputs measured in rounds (MB/s), and the median of the rounds' own ratios.</summary>
public sealed record Paired(double DirectMBps, double WaveMBps, double Ratio);

/// <summary>The result table: Wave against the registry serving the same content, as a ratio.</summary>
public sealed class Report
{
    private readonly List<string> _rows = [];

    private static string F(double value, string format = "0.0") => double.IsNaN(value) ? "–" : value.ToString(format, CultureInfo.InvariantCulture);

    private void Add(string what, string direct, string wave, string ratio, string? target, bool? met)
    {
        var verdict = target is null ? "" : $"{target} {(met == true ? "✅" : "❌")}";
        _rows.Add($"| {what} | {direct} | {wave} | {ratio} | {verdict} |");
        Console.WriteLine($"  {what}: direct {direct} | wave {wave} | {ratio} {verdict}");
    }

    private static string Describe(LoadResult r) =>
        $"{F(r.RequestsPerSecond, "N0")} req/s, p50 {F(r.P50Ms, "0.00")} ms, p99 {F(r.P99Ms, "0.00")} ms{(r.Errors > 0 ? $", {r.Errors} errors" : "")}";

    public void Load(string what, LoadResult direct, LoadResult wave, string? target)
    {
        var ratio = wave.RequestsPerSecond / direct.RequestsPerSecond;
        Add(what, Describe(direct), Describe(wave), $"{F(ratio, "0.00")}× req/s, {F(wave.P99Ms / direct.P99Ms, "0.00")}× p99", target, ratio >= 1.0 && wave.Errors == 0);
    }

    public void Absolute(string what, LoadResult wave, string target) =>
        Add(what, "–", Describe(wave), "–", target, wave.RequestsPerSecond >= 2000 && wave.Errors == 0);

    /// <summary>Blob pulls made in rounds, direct and through Wave in turn: medians, and the median of the rounds' ratios.</summary>
    public void Paired(string what, Paired paired, string? target) =>
        Add(what, $"{F(paired.DirectMBps, "N0")} MB/s", $"{F(paired.WaveMBps, "N0")} MB/s", $"{F(paired.Ratio, "0.00")}× (median of the rounds)", target, paired.Ratio >= 0.9);

    /// <summary>
    /// Wall times of pulls made in rounds (one direct and one through Wave per round, in turn): each cell is the median
    /// with the range, and the ratio is the median of the rounds' own ratios, so a machine that slows down for a while
    /// slows both sides of the rounds it touches instead of skewing one column.
    /// </summary>
    public void Rounds(string what, IReadOnlyList<double> directSeconds, IReadOnlyList<double> waveSeconds, string? target)
    {
        static string Cell(IReadOnlyList<double> seconds) =>
            $"{F(Median(seconds), "0.00")} s ({F(seconds.Min(), "0.00")}–{F(seconds.Max(), "0.00")}, {seconds.Count} pulls)";
        var ratio = Median(directSeconds.Zip(waveSeconds, (direct, wave) => wave / direct).ToList());
        Add(what, Cell(directSeconds), Cell(waveSeconds), $"{F(ratio, "0.00")}× time (median of the rounds)", target, ratio <= 1.05);
    }

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>A row whose cells the caller words itself (builds, where the baseline is buildah rather than the registry).</summary>
    public void Row(string what, string direct, string wave, string ratio) => Add(what, direct, wave, ratio, null, null);

    public void Memory(string what, long before, long after, int count)
    {
        var perThousand = (after - before) / (double)count * 1000 / (1024 * 1024);
        Add(what, "–", $"{after / (1024 * 1024)} MiB (from {before / (1024 * 1024)} MiB)", $"{F(perThousand, "0.00")} MiB per 1,000", null, null);
    }

    public string ToMarkdown(BenchOptions options)
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        var memory = File.ReadLines("/proc/meminfo").First().Split(':', 2)[1].Trim();
        var text = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores ({cpu}), {memory} RAM, .NET {Environment.Version}; loopback; load by wrk {options.Duration.TotalSeconds:0} s per cell.")
            .AppendLine()
            .AppendLine("| measurement | registry direct | Wave | Wave / direct | target |")
            .AppendLine("| --- | --- | --- | --- | --- |");
        foreach (var row in _rows)
        {
            text.AppendLine(row);
        }
        return text.ToString();
    }
}
