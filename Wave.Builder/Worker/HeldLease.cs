using Wave.Core.Persistence;

namespace Wave.Builder.Worker;

/// <summary>
/// A job's lease (build or mirror) while this builder runs the job: renewed every
/// <see cref="BuildLeaseOptions.EffectiveRenewInterval"/> until <see cref="StopRenewingAsync"/>. When the store says the
/// lease is lost (another builder took it over after this one could not renew it in time, or the job was completed
/// elsewhere) it keeps what the store said in <see cref="Lost"/> and cancels <see cref="RunToken"/>: the job belongs to
/// the holder now. A store that cannot be reached is tried again at the next tick, as nobody else can take the lease
/// meanwhile unless it expires. Disposed without <see cref="Settle"/> (shutdown, a store that stayed unreachable, a
/// failure), it releases the lease so that the job's next delivery need not wait for the heartbeat to expire.
/// </summary>
public sealed class HeldLease : IAsyncDisposable
{
    private readonly string _job;
    private readonly Func<CancellationToken, Task<BuildLease>> _renew;
    private readonly Func<CancellationToken, Task<bool>> _release;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _run;
    private readonly CancellationTokenSource _stopRenewing = new();
    private readonly Task _renewing;
    private BuildLease? _lost;
    private bool _settled;

    /// <param name="job">The job, for the log: "build bd-…", "mirror mr-…".</param>
    /// <param name="renew">Takes the lease again for this builder, which renews its heartbeat.</param>
    /// <param name="release">Gives the lease up if this builder still holds it.</param>
    /// <param name="cancellationToken">Shutdown: cancels <see cref="RunToken"/> too.</param>
    public HeldLease(string job, Func<CancellationToken, Task<BuildLease>> renew, Func<CancellationToken, Task<bool>> release,
        BuildLeaseOptions settings, TimeProvider time, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(time);
        _job = job;
        _renew = renew;
        _release = release;
        _logger = logger;
        _run = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _renewing = RenewAsync(settings.EffectiveRenewInterval, time, _stopRenewing.Token);
    }

    /// <summary>The job's run: cancelled at shutdown and when the lease is lost.</summary>
    public CancellationToken RunToken => _run.Token;

    /// <summary>What the store said when the lease could not be renewed; null while it is held. Set before <see cref="RunToken"/> is cancelled.</summary>
    public BuildLease? Lost => Volatile.Read(ref _lost);

    /// <summary>The job reached an end this builder answers for (an outcome to record, or the lease lost): no release.</summary>
    public void Settle() => _settled = true;

    /// <summary>Stops the heartbeat and waits for it, as the outcome is about to be recorded; <see cref="Lost"/> is final then.</summary>
    public async Task StopRenewingAsync()
    {
        await _stopRenewing.CancelAsync();
        await _renewing;
    }

    public async ValueTask DisposeAsync()
    {
        await StopRenewingAsync();
        if (!_settled)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _release(timeout.Token);
            }
            catch (Exception e)
            {
                _logger.LogWarning("Could not release the lease of {Job} ({Error}); it expires by itself", _job, e.Message);
            }
        }
        _run.Dispose();
        _stopRenewing.Dispose();
    }

    private async Task RenewAsync(TimeSpan interval, TimeProvider time, CancellationToken stop)
    {
        while (true)
        {
            try
            {
                await Task.Delay(interval, time, stop);
                var lease = await _renew(stop);
                if (!lease.Acquired)
                {
                    _logger.LogWarning("{Job}: this builder lost its lease ({Outcome}, holder {Owner}); its run stops", _job, lease.Outcome, lease.Owner ?? "none");
                    Volatile.Write(ref _lost, lease);
                    await _run.CancelAsync();
                    return;
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.LogWarning("Could not renew the lease of {Job} ({Error}); trying again in {Interval:0.0} s", _job, e.Message, interval.TotalSeconds);
            }
        }
    }
}
