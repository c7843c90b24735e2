using System.Collections.Concurrent;
using System.Threading.Channels;

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

using Wave.Core.Names;
using Wave.Core.Registry;

namespace Wave.Core.Scans;

/// <summary>What to scan: the image (pinned by digest where known), the platform, the login to read it with, and the request it is for.</summary>
public sealed record ScanSubject(ImageReference Image, ContainerPlatform Platform, IRegistryCredentialsProvider? Credentials, ScanOrigin Origin);

/// <summary>A scan this process is to run, with the login it was asked with (null: the configured registry logins).</summary>
public sealed record ScanJob(ScanRecord Scan, IRegistryCredentialsProvider? Credentials);

/// <summary>
/// Starts and reports container security scans. <see cref="StartScanAsync"/> records a pending scan and queues it for
/// this process's scan worker, or answers the scan an identical request already has (pending, or succeeded within
/// <see cref="ScanOptions.ReuseFor"/>); a failed scan is made again under the next attempt. The record is written
/// before the scan is queued, and its lease names this process, so a scan whose process dies is found and run by
/// another (with the configured registry logins: a user's own login is never stored).
/// </summary>
public sealed class ContainerScanService(IScanStore store, IOptions<ScanOptions> options, TimeProvider time, ILogger<ContainerScanService> logger)
{
    private readonly Channel<ScanJob> _jobs = Channel.CreateUnbounded<ScanJob>(new UnboundedChannelOptions { SingleReader = false });
    private readonly ConcurrentDictionary<string, byte> _held = new(StringComparer.Ordinal);

    /// <summary>This process's name in scan leases.</summary>
    public string InstanceId { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..12]}";

    public bool Enabled => options.Value.Enabled;

    /// <summary>The message of a 501 for a request asking for <paramref name="mode"/> when scans are not enabled; null when it may go ahead.</summary>
    public string? RefusalFor(ScanMode mode) => mode != ScanMode.None && !Enabled ? ScanOptions.NotEnabledMessage(mode) : null;

    /// <summary>
    /// The id of the scan for <paramref name="subject"/> under <paramref name="mode"/>: null for <see cref="ScanMode.None"/>,
    /// a new or shared scan otherwise. Throws <see cref="InvalidOperationException"/> when scans are not enabled (see
    /// <see cref="RefusalFor"/>, which a request handler checks first).
    /// </summary>
    public async Task<string?> StartScanAsync(ScanSubject subject, ScanMode mode, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subject);
        if (mode == ScanMode.None)
        {
            return null;
        }
        if (RefusalFor(mode) is { } refusal)
        {
            throw new InvalidOperationException(refusal);
        }
        var image = subject.Image.ToString();
        var key = ScanId.Key(subject.Image.Name, subject.Image.Digest ?? subject.Image.Reference, subject.Platform.ToString());
        for (var tries = 0; ; tries++)
        {
            var now = time.GetUtcNow();
            var latest = await store.FindLatestAsync(key, cancellationToken);
            if (latest is not null && (latest.Status == ScanStatus.Pending
                || (latest.Status == ScanStatus.Succeeded && latest.StartTime > now - options.Value.ReuseFor)))
            {
                return latest.Id;
            }
            var attempt = (latest?.Attempt ?? 0) + 1;
            var scan = new ScanRecord
            {
                Id = ScanId.Format(key, attempt),
                Key = key,
                Attempt = attempt,
                BuildId = subject.Origin.BuildId,
                MirrorId = subject.Origin.MirrorId,
                RequestId = subject.Origin.RequestId,
                ContainerImage = image,
                Platform = subject.Platform.ToString(),
                StartTime = now,
            };
            if (await store.CreateAsync(scan, InstanceId, now, cancellationToken))
            {
                logger.LogInformation("Scan {ScanId} of {Image} ({Platform}) queued", scan.Id, image, scan.Platform);
                Enqueue(new ScanJob(scan, subject.Credentials));
                return scan.Id;
            }
            if (tries >= 3)
            {
                throw new InvalidOperationException($"the scan of {image} could not be recorded: attempt {attempt} keeps being taken");
            }
            // Another request recorded this attempt first: the next look finds it.
        }
    }

    public Task<ScanRecord?> GetScanAsync(string scanId, CancellationToken cancellationToken) => store.FindAsync(scanId, cancellationToken);

    /// <summary>The latest scan started for a build or a mirror, or null.</summary>
    public Task<ScanRecord?> FindScanOfAsync(ScanOrigin origin, CancellationToken cancellationToken) => store.FindLatestOfAsync(origin, cancellationToken);

    public Task<byte[]?> GetSpdxAsync(string scanId, CancellationToken cancellationToken) => store.ReadSpdxAsync(scanId, cancellationToken);

    /// <summary>The scans this process is to run (read by the scan worker).</summary>
    public ChannelReader<ScanJob> Jobs => _jobs.Reader;

    /// <summary>The pending scans whose lease this process holds (queued or running), whose heartbeat the worker renews.</summary>
    public ICollection<string> Held => _held.Keys;

    /// <summary>Queues a scan whose lease this process holds.</summary>
    public void Enqueue(ScanJob job)
    {
        _held[job.Scan.Id] = 0;
        _jobs.Writer.TryWrite(job);
    }

    /// <summary>Queues again a held scan that is waiting (for its build).</summary>
    public void Requeue(ScanJob job)
    {
        if (_held.ContainsKey(job.Scan.Id))
        {
            _jobs.Writer.TryWrite(job);
        }
    }

    /// <summary>The scan is done here, or its lease was lost.</summary>
    public void Release(string scanId) => _held.TryRemove(scanId, out _);
}
