namespace Wave.Bench;

/// <summary>The memory a service needs for many streamed blob pulls held open at once, and how many started in time.</summary>
public static class HeldOpenPulls
{
    public sealed record Measurement(long BeforeBytes, long DuringBytes, int Started);

    /// <summary>
    /// Warms the blob once, then opens <paramref name="count"/> GETs of it that read only headers and stall, so the
    /// service holds all of them at once; its resident set is read before and 20 s into the burst (or when every pull
    /// has its headers), then the pulls are dropped.
    /// </summary>
    public static async Task<Measurement> MeasureAsync(HttpClient http, string layerUrl, int count, Func<long> residentBytes)
    {
        using (var warm = await http.GetAsync(layerUrl))
        {
            warm.EnsureSuccessStatusCode();
        }
        var before = residentBytes();
        using var giveUp = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var pulls = Enumerable.Range(0, count)
            .Select(_ => http.GetAsync(layerUrl, HttpCompletionOption.ResponseHeadersRead, giveUp.Token)).ToList();
        await Task.WhenAny(Task.WhenAll(pulls), Task.Delay(TimeSpan.FromSeconds(20)));
        var during = residentBytes();
        var started = pulls.Count(p => p.IsCompletedSuccessfully);
        await giveUp.CancelAsync();
        foreach (var pull in pulls)
        {
            try
            {
                (await pull).Dispose();
            }
            catch (Exception e) when (e is OperationCanceledException or HttpRequestException)
            {
            }
        }
        return new Measurement(before, during, started);
    }
}
