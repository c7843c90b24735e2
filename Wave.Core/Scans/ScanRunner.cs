using System.Globalization;
using System.Reflection;
using System.Text;

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

using Wave.Core.Names;
using Wave.Core.Registry;
using Wave.Core.Scans.Osv;
using Wave.Core.Scans.Sbom;

namespace Wave.Core.Scans;

/// <summary>
/// Runs one scan: reads the image's packages from the registry (<see cref="ImageReader"/>), writes the SBOM, matches
/// it against the vulnerability database and sums the findings up by severity. Never throws for a scan that cannot be
/// made (unreachable registry, missing image, corrupt layer, unreadable database, time-out): that is a FAILED outcome
/// whose log says why. Registry credentials go to the registry client only, never into the log.
/// </summary>
public sealed class ScanRunner(RegistryClient registry, VulnerabilityDatabaseSource databases, IOptions<ScanOptions> options, TimeProvider time,
    ILogger<ScanRunner> logger)
{
    private static readonly string Tool = "wave-" + (typeof(ScanRunner).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0");

    public async Task<ScanOutcome> RunAsync(ScanRecord scan, IRegistryCredentialsProvider? credentials, CancellationToken cancellationToken)
    {
        var log = new StringBuilder();
        void Log(string line) => log.Append(CultureInfo.InvariantCulture, $"[wave] {line}\n");
        var settings = options.Value;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(settings.Timeout);
        try
        {
            Log($"scanning {scan.ContainerImage} for {scan.Platform}");
            var image = ImageReference.Parse(scan.ContainerImage);
            var platform = ContainerPlatform.Parse(scan.Platform);
            var database = await databases.GetAsync(timeout.Token);
            var client = credentials is null ? registry : registry.WithCredentials(credentials);
            var inventory = await ImageReader.ReadAsync(client, image, platform, Log, timeout.Token);
            var contents = inventory.Contents;
            Log($"read {inventory.Layers} layers ({inventory.CompressedBytes} bytes), each matching its digest");
            Log($"distribution: {(contents.Distribution is { } d ? $"{d.Id} {d.VersionId ?? "(no release)"}" : "none named")}");
            Log($"packages: {contents.Packages.Count} (dpkg {contents.Count(PackageKind.Dpkg)}, apk {contents.Count(PackageKind.Apk)}, " +
                $"conda {contents.Count(PackageKind.Conda)}, python {contents.Count(PackageKind.Python)})");
            foreach (var problem in contents.Problems)
            {
                Log($"skipped {problem}");
            }
            var spdx = SpdxDocument.Write(inventory.Subject, contents, time.GetUtcNow(), $"urn:uuid:{Guid.NewGuid()}", Tool);
            var findings = VulnerabilityMatcher.Match(contents, database);
            var summary = findings.GroupBy(f => f.Severity).ToDictionary(g => g.Key, g => g.Count());
            Log($"matched against {database.EntryCount} OSV advisories: {findings.Count} vulnerabilities" +
                (summary.Count > 0 ? $" ({string.Join(", ", summary.OrderByDescending(s => ScanLevel.Rank(s.Key)).Select(s => $"{s.Value} {s.Key}"))})" : ""));
            var kept = findings.Take(Math.Max(0, settings.VulnerabilityLimit)).ToList();
            if (kept.Count < findings.Count)
            {
                Log($"the record keeps the {kept.Count} most severe (Wave:Scan:VulnerabilityLimit)");
            }
            return new ScanOutcome(ScanStatus.Succeeded, kept, summary, contents.Packages.Count, spdx, log.ToString(), 0);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            Log($"timed out after {settings.Timeout}");
            return ScanOutcome.Failure(log.ToString());
        }
        catch (Exception e) when (e is ScanException or RegistryException or HttpRequestException or IOException or InvalidImageReferenceException or FormatException)
        {
            logger.LogWarning("Scan {ScanId} of {Image} failed: {Reason}", scan.Id, scan.ContainerImage, e.Message);
            Log($"failed: {e.Message}");
            return ScanOutcome.Failure(log.ToString());
        }
    }
}
