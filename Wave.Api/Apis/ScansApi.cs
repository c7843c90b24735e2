using System.Text.Json.Serialization;

using Wave.Api.Views;
using Wave.Core.Scans;

namespace Wave.Api.Apis;

/// <summary>
/// Security scans: <c>GET /v1alpha1/scans/{id}</c> (the record, as the Wave API's WaveScanRecord), <c>…/spdx</c> (the
/// SBOM as SPDX 2.3 JSON), <c>…/logs</c> (the scan's log) and the page <c>/view/scans/{id}</c>. Records stay readable
/// whether or not this service makes scans now.
/// </summary>
public static class ScansApi
{
    public static IEndpointRouteBuilder MapScansApi(this IEndpointRouteBuilder app)
    {
        var scans = app.MapGroup("/v1alpha1/scans/{scanId}").AddEndpointFilter(async (context, next) =>
        {
            try
            {
                return await next(context);
            }
            catch (System.Data.Common.DbException e)
            {
                return ContainerApi.Error(StatusCodes.Status503ServiceUnavailable, $"the scan store is unavailable, try again: {e.Message}");
            }
        });
        scans.MapGet("", GetScan);
        scans.MapGet("/spdx", GetSpdx);
        scans.MapGet("/logs", GetLogs);
        app.MapGet("/view/scans/{scanId}", View);
        return app;
    }

    /// <summary>
    /// The 501 a request asking for a scan gets when this service makes none (no vulnerability database configured),
    /// naming the setting; null when the request may go ahead. For the container request handlers.
    /// </summary>
    public static IResult? RefuseUnlessScansEnabled(ScanMode mode, ContainerScanService scans) =>
        scans.RefusalFor(mode) is { } message ? ContainerApi.Error(StatusCodes.Status501NotImplemented, message, "scanMode") : null;

    /// <summary>The Wave API's WaveScanRecord, with the counts by severity and the SBOM's package count besides.</summary>
    public sealed record ScanRecordResponse(
        [property: JsonPropertyName("id")] string Id,
        [property: JsonPropertyName("buildId")] string? BuildId,
        [property: JsonPropertyName("mirrorId")] string? MirrorId,
        [property: JsonPropertyName("requestId")] string? RequestId,
        [property: JsonPropertyName("containerImage")] string ContainerImage,
        [property: JsonPropertyName("platform")] string Platform,
        [property: JsonPropertyName("startTime")] DateTime StartTime,
        [property: JsonPropertyName("duration"), JsonConverter(typeof(JsonSeconds))] TimeSpan? Duration,
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("vulnerabilities")] IReadOnlyList<ScanVulnerability> Vulnerabilities,
        [property: JsonPropertyName("exitCode")] int? ExitCode,
        [property: JsonPropertyName("logs")] string? Logs,
        [property: JsonPropertyName("summary")] IReadOnlyDictionary<string, int> Summary,
        [property: JsonPropertyName("packageCount")] int? PackageCount)
    {
        public static ScanRecordResponse Of(ScanRecord scan) => new(scan.Id, scan.BuildId, scan.MirrorId, scan.RequestId, scan.ContainerImage,
            scan.Platform, scan.StartTime.UtcDateTime, scan.Duration, scan.Status,
            scan.Vulnerabilities, scan.ExitCode, scan.Logs, scan.Summary, scan.PackageCount);
    }

    private static async Task<IResult> GetScan(string scanId, ContainerScanService scans, CancellationToken cancellationToken)
    {
        if (!ScanId.TryParse(scanId, out _, out _))
        {
            return BadId(scanId);
        }
        var scan = await scans.GetScanAsync(scanId, cancellationToken);
        return scan is null ? Unknown(scanId) : TypedResults.Ok(ScanRecordResponse.Of(scan));
    }

    private static async Task<IResult> GetSpdx(string scanId, HttpContext context, ContainerScanService scans, CancellationToken cancellationToken)
    {
        if (!ScanId.TryParse(scanId, out _, out _))
        {
            return BadId(scanId);
        }
        var scan = await scans.GetScanAsync(scanId, cancellationToken);
        if (scan is null)
        {
            return Unknown(scanId);
        }
        var spdx = await scans.GetSpdxAsync(scanId, cancellationToken);
        if (spdx is null)
        {
            return ContainerApi.Error(StatusCodes.Status404NotFound, scan.Done
                ? $"scan '{scanId}' did not complete, so it has no SBOM (see /v1alpha1/scans/{scanId}/logs)"
                : $"scan '{scanId}' is still running; its SBOM is ready when its status is {ScanStatus.Succeeded}");
        }
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"spdx-{scanId}.json\"";
        return TypedResults.Bytes(spdx, "application/json");
    }

    private static async Task<IResult> GetLogs(string scanId, HttpContext context, ContainerScanService scans, CancellationToken cancellationToken)
    {
        if (!ScanId.TryParse(scanId, out _, out _))
        {
            return BadId(scanId);
        }
        var scan = await scans.GetScanAsync(scanId, cancellationToken);
        if (scan is null)
        {
            return Unknown(scanId);
        }
        if (scan.Logs is null)
        {
            return ContainerApi.Error(StatusCodes.Status404NotFound, $"scan '{scanId}' has no log yet: it is still running");
        }
        context.Response.Headers.ContentDisposition = $"attachment; filename={scanId}.log";
        return TypedResults.Text(scan.Logs, "text/plain", System.Text.Encoding.UTF8);
    }

    public static async Task<IResult> View(string scanId, ContainerScanService scans, TimeProvider time, CancellationToken cancellationToken)
    {
        var scan = ScanId.TryParse(scanId, out _, out _) ? await scans.GetScanAsync(scanId, cancellationToken) : null;
        if (scan is null)
        {
            return Html(new HtmlPage("Scan not found").Raw($"<p>{HtmlPage.Encode($"No security scan with id '{scanId}' is known to this Wave service.")}</p>\n").Render(),
                StatusCodes.Status404NotFound);
        }
        var id = HtmlPage.Encode(Uri.EscapeDataString(scan.Id));
        var (status, css) = scan.Status switch
        {
            ScanStatus.Succeeded when scan.Summary.Values.Sum() == 0 => ("SUCCEEDED: no vulnerabilities found", "ok"),
            ScanStatus.Succeeded => ($"SUCCEEDED: {scan.Summary.Values.Sum()} vulnerabilities found", "wait"),
            ScanStatus.Failed => ("FAILED", "bad"),
            _ => ("PENDING: the scan is running", "wait"),
        };
        var page = new HtmlPage($"Security scan {scan.Id}");
        if (!scan.Done)
        {
            // The page reloads itself while the scan runs.
            page.Raw("<meta http-equiv=\"refresh\" content=\"5\">\n");
        }
        page.Table("summary",
        [
            ("Scan ID", scan.Id),
            ("Status", new HtmlPage.Markup($"<span class=\"status {css}\">{HtmlPage.Encode(status)}</span>")),
            ("Container image", new HtmlPage.Markup($"<code>{HtmlPage.Encode(scan.ContainerImage)}</code>")),
            ("Platform", scan.Platform),
            ("Build", scan.BuildId is null ? null : new HtmlPage.Markup($"<a href=\"/view/builds/{HtmlPage.Encode(Uri.EscapeDataString(scan.BuildId))}\">{HtmlPage.Encode(scan.BuildId)}</a>")),
            ("Mirror", scan.MirrorId),
            ("Container request", scan.RequestId is null ? null : new HtmlPage.Markup($"<a href=\"/view/containers/{HtmlPage.Encode(Uri.EscapeDataString(scan.RequestId))}\">{HtmlPage.Encode(scan.RequestId)}</a>")),
            ("Started", HtmlPage.Time(scan.StartTime)),
            ("Duration", HtmlPage.Duration(scan.Duration ?? (scan.Done ? null : time.GetUtcNow() - scan.StartTime))),
            ("Packages", scan.PackageCount?.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("By severity", scan.Summary.Count == 0 ? (scan.Done ? "none" : null)
                : string.Join(", ", scan.Summary.OrderByDescending(s => ScanLevel.Rank(s.Key)).Select(s => $"{s.Value} {s.Key}"))),
            ("SBOM", scan.Status == ScanStatus.Succeeded ? new HtmlPage.Markup($"<a href=\"/v1alpha1/scans/{id}/spdx\">SPDX JSON</a>") : null),
        ]);
        if (scan.Status == ScanStatus.Succeeded)
        {
            page.Heading("Vulnerabilities");
            if (scan.Vulnerabilities.Count == 0)
            {
                page.Raw("<p id=\"no-vulnerabilities\" class=\"muted\">No vulnerabilities found.</p>\n");
            }
            else
            {
                var table = new System.Text.StringBuilder("<table id=\"vulnerabilities\">\n<tr><th>ID</th><th>Severity</th><th>Package</th><th>Version</th><th>Fixed in</th><th>Title</th></tr>\n");
                foreach (var v in scan.Vulnerabilities)
                {
                    var link = Uri.TryCreate(v.PrimaryUrl, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"
                        ? $"<a href=\"{HtmlPage.Encode(url.AbsoluteUri)}\" rel=\"noreferrer\">{HtmlPage.Encode(v.Id)}</a>"
                        : HtmlPage.Encode(v.Id);
                    table.Append(System.Globalization.CultureInfo.InvariantCulture,
                        $"<tr><td>{link}</td><td class=\"severity\">{HtmlPage.Encode(v.Severity)}</td><td>{HtmlPage.Encode(v.PkgName)}</td><td>{HtmlPage.Encode(v.InstalledVersion)}</td><td>{HtmlPage.Encode(v.FixedVersion.Length == 0 ? "–" : v.FixedVersion)}</td><td>{HtmlPage.Encode(v.Title)}</td></tr>\n");
                }
                table.Append("</table>\n");
                page.Raw(table.ToString());
                if (scan.Vulnerabilities.Count < scan.Summary.Values.Sum())
                {
                    page.Raw($"<p class=\"muted\">{HtmlPage.Encode($"The {scan.Vulnerabilities.Count} most severe of {scan.Summary.Values.Sum()} are listed.")}</p>\n");
                }
            }
        }
        if (scan.Logs is not null)
        {
            page.Heading("Log").Pre("log", scan.Logs);
        }
        return Html(page.Render());
    }

    private static IResult Html(string html, int status = StatusCodes.Status200OK) =>
        TypedResults.Content(html, "text/html; charset=utf-8", statusCode: status);

    private static IResult BadId(string scanId) =>
        ContainerApi.Error(StatusCodes.Status400BadRequest, $"'{scanId}' is not a scan id (sc-<16 hex digits>_<attempt>)", "scanId");

    private static IResult Unknown(string scanId) =>
        ContainerApi.Error(StatusCodes.Status404NotFound, $"scan '{scanId}' is unknown to this Wave service");
}
