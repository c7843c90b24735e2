using System.Text;

using Wave.Core.Builds;
using Wave.Core.Persistence;

namespace Wave.Builder.Worker;

/// <summary>
/// Writes a build's log to the build store in batches: what arrives within <see cref="FlushInterval"/> (or up to
/// <see cref="MaxBatchCharacters"/>) goes out in one append, so a chatty build costs a few statements a second while
/// its log stays readable as it runs.
/// </summary>
public sealed class StoreLogSink : IBuildLogSink, IAsyncDisposable
{
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(500);
    public const int MaxBatchCharacters = 64 * 1024;

    private readonly Func<string, CancellationToken, Task> _append;
    private readonly string _buildId;
    private readonly ILogger _logger;
    private readonly StringBuilder _pending = new();
    private readonly SemaphoreSlim _writing = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _flusher;
    private readonly Lock _gate = new();

    public StoreLogSink(IBuildStore store, string buildId, TimeProvider time, ILogger logger)
        : this(async (text, cancellationToken) => await store.AppendLogAsync(buildId, text, cancellationToken), buildId, time, logger)
    {
    }

    /// <summary>A sink whose batches go to <paramref name="append"/> (a mirror's log, kept in its own table).</summary>
    public StoreLogSink(Func<string, CancellationToken, Task> append, string buildId, TimeProvider time, ILogger logger)
    {
        _append = append;
        _buildId = buildId;
        _logger = logger;
        _flusher = FlushPeriodicallyAsync(time);
    }

    public async ValueTask AppendAsync(string text, CancellationToken cancellationToken)
    {
        bool full;
        lock (_gate)
        {
            _pending.Append(text);
            full = _pending.Length >= MaxBatchCharacters;
        }
        if (full)
        {
            await FlushAsync(cancellationToken);
        }
    }

    /// <summary>Writes what is pending now.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _writing.WaitAsync(cancellationToken);
        try
        {
            string text;
            lock (_gate)
            {
                if (_pending.Length == 0)
                {
                    return;
                }
                text = _pending.ToString();
                _pending.Clear();
            }
            try
            {
                await _append(text, cancellationToken);
            }
            catch
            {
                // Not written: kept in front of what came since, for the next flush.
                lock (_gate)
                {
                    _pending.Insert(0, text);
                }
                throw;
            }
        }
        finally
        {
            _writing.Release();
        }
    }

    private async Task FlushPeriodicallyAsync(TimeProvider time)
    {
        using var timer = new PeriodicTimer(FlushInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                try
                {
                    await FlushAsync(_stop.Token);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The next flush tries again with the same text plus what came since.
                    _logger.LogWarning(e, "Could not write the log of build {BuildId} yet", _buildId);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Stops the periodic flush; the caller flushes the rest with <see cref="FlushAsync"/> first.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _flusher;
        _stop.Dispose();
        _writing.Dispose();
    }
}
