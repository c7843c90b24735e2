using Wave.Api.Views;
using Wave.Core.Mirrors;
using Wave.Core.Persistence;
using Wave.Core.Scans;

namespace Wave.Api.Apis;

/// <summary>
/// <c>/view/mirrors/{id}</c>: a mirror for people, as the Wave server's mirror page shows it: status, source and target,
/// digest, timings, what was copied, and the log. While the copy runs the page reloads itself every 5 seconds.
/// </summary>
public static class MirrorPages
{
    public static IEndpointRouteBuilder MapMirrorPages(this IEndpointRouteBuilder app)
    {
        app.MapGet("/view/mirrors/{id}", Mirror);
        return app;
    }

    public static async Task<IResult> Mirror(string id, IMirrorStore mirrors, ContainerScanService scans, TimeProvider time, CancellationToken cancellationToken)
    {
        var mirror = MirrorId.TryParse(id, out _, out _) ? await mirrors.FindAsync(id, cancellationToken) : null;
        if (mirror is null)
        {
            var missing = new HtmlPage("Mirror not found").Raw($"<p>{HtmlPage.Encode($"Unknown container mirror id '{id}'.")}</p>\n");
            return TypedResults.Content(missing.Render(), "text/html; charset=utf-8", statusCode: StatusCodes.Status404NotFound);
        }
        var log = await mirrors.ReadLogAsync(id, cancellationToken);
        var scan = await scans.FindScanOfAsync(new ScanOrigin(MirrorId: mirror.MirrorId), cancellationToken);
        var (status, css) = mirror.Status switch
        {
            BuildStatus.Completed when mirror.Succeeded == true => ("SUCCEEDED: container mirror completed successfully", "ok"),
            BuildStatus.Completed => ("FAILED: container mirror failed", "bad"),
            BuildStatus.Running => ("RUNNING: container mirror in progress", "wait"),
            _ => ("PENDING: waiting for a builder", "wait"),
        };
        var now = time.GetUtcNow();
        var duration = mirror.Duration ?? (mirror.StartedAt is { } started && !mirror.Completed ? now - started : null);
        var page = new HtmlPage($"Mirror {mirror.MirrorId}");
        page.Table("summary",
        [
            ("Status", new HtmlPage.Markup($"<span id=\"status\" class=\"status {css}\">{HtmlPage.Encode(status)}</span>")),
            ("Mirror ID", mirror.MirrorId),
            ("User ID", mirror.UserId ?? "anonymous"),
            ("Source container", new HtmlPage.Markup($"<code>{HtmlPage.Encode(mirror.SourceImage)}</code>")),
            ("Target container", new HtmlPage.Markup($"<code>{HtmlPage.Encode(mirror.TargetImage)}</code>")),
            ("Container digest", mirror.SourceDigest),
            ("Platform", "(all)"),
            ("Creation time", HtmlPage.Time(mirror.CreatedAt)),
            ("Started", HtmlPage.Time(mirror.StartedAt)),
            ("Finished", HtmlPage.Time(mirror.CompletedAt)),
            ("Duration", HtmlPage.Duration(duration)),
            ("Attempt", mirror.Attempt.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("Copied", mirror.Completed
                ? $"{mirror.Counts.BlobsCopied} blobs ({mirror.Counts.BytesCopied} bytes), {mirror.Counts.BlobsSkipped} already at the target, {mirror.Counts.Manifests} manifests"
                : null),
            ("Reason", mirror.Completed && mirror.Succeeded != true ? mirror.FailureReason : null),
            ("Security scan", HtmlPage.ScanLink(scan?.Id)),
        ]);
        page.Heading("Log").Pre("log", log);
        page.Raw($"<p class=\"muted\"><a href=\"/v1alpha1/mirrors/{HtmlPage.Encode(Uri.EscapeDataString(mirror.MirrorId))}/logs\">Download the log</a></p>\n");
        return TypedResults.Content(page.Render(mirror.Completed ? null : "setTimeout(function () { location.reload(); }, 5000);"), "text/html; charset=utf-8");
    }
}
