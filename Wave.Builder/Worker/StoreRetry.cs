namespace Wave.Builder.Worker;

/// <summary>
/// A job store call tried again while the database cannot be reached (restarting, failing over): a job given back to
/// the queue at once would come straight back and use up its deliveries in seconds, and a build or copy that ran would
/// be run again. Shared by the build and mirror runners.
/// </summary>
public static class StoreRetry
{
    /// <summary>How long a store call is tried again while the database is unreachable, before the job goes back to the queue.</summary>
    public static TimeSpan Limit { get; } = TimeSpan.FromMinutes(2);

    /// <param name="what">What the call does, for the log: "take", "record the outcome of".</param>
    /// <param name="job">The job it does it to, for the log: "build bd-…", "mirror mr-…".</param>
    public static async Task<T> RunAsync<T>(string what, string job, Func<CancellationToken, Task<T>> call, TimeProvider time, ILogger logger,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        var started = time.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            try
            {
                return await call(cancellationToken);
            }
            catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException && time.GetElapsedTime(started) < Limit)
            {
                logger.LogWarning("Could not {What} {Job} in the store ({Error}); trying again in {Delay:0.0} s", what, job, e.Message, delay.TotalSeconds);
                await Task.Delay(delay, time, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }
}
