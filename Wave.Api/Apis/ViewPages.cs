using System.Text.Json.Serialization;

using Wave.Api.Views;
using Wave.Core.Persistence;
using Wave.Core.Requests;
using Wave.Core.Scans;

namespace Wave.Api.Apis;

/// <summary>
/// Pages a person looks at: a container request and a build. Server-rendered HTML; the build page follows a running
/// build with a small script that polls its own JSON endpoint (<c>/view/builds/{id}/log?offset=N</c>).
/// </summary>
public static class ViewPages
{
    public static IEndpointRouteBuilder MapViewPages(this IEndpointRouteBuilder app)
    {
        app.MapGet("/view/containers/{token}", Container);
        app.MapGet("/view/builds/{id}", Build);
        app.MapGet("/view/builds/{id}/log", BuildLog);
        return app;
    }

    /// <summary>What the build page's script reads: the log from <c>offset</c> and the build's state now.</summary>
    public sealed record BuildProgress(
        [property: JsonPropertyName("text")] string Text,
        [property: JsonPropertyName("next")] long Next,
        [property: JsonPropertyName("truncated")] bool Truncated,
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("statusClass")] string StatusClass,
        [property: JsonPropertyName("completed")] bool Completed,
        [property: JsonPropertyName("started")] string Started,
        [property: JsonPropertyName("finished")] string Finished,
        [property: JsonPropertyName("duration")] string Duration,
        [property: JsonPropertyName("digest")] string Digest,
        [property: JsonPropertyName("reason")] string Reason);

    public static async Task<IResult> Container(string token, IContainerRecordStore records, TimeProvider time, CancellationToken cancellationToken)
    {
        var record = await records.FindAsync(token, cancellationToken);
        if (record is null)
        {
            return NotFound("Container not found", $"No container request with token '{token}' was issued by this Wave service.");
        }
        var now = time.GetUtcNow();
        var (state, css) = record.Revoked ? ("revoked", "bad") : record.ExpiresAt <= now ? ("expired", "muted") : ("active", "ok");
        var page = new HtmlPage($"Container {record.Token}");
        page.Table("summary",
        [
            ("Token", record.Token),
            ("State", new HtmlPage.Markup($"<span class=\"status {css}\">{HtmlPage.Encode(state)}</span>")),
            ("Image", new HtmlPage.Markup($"<code>{HtmlPage.Encode(record.TargetImage)}</code>")),
            ("Requested", HtmlPage.Time(record.CreatedAt)),
            ("Expires", HtmlPage.Time(record.ExpiresAt)),
            ("Revoked", record.RevokedAt is null ? "no" : HtmlPage.Time(record.RevokedAt)),
            ("User", record.User is null ? "anonymous" : $"{record.User.UserName}{(record.User.Email is null ? "" : $" <{record.User.Email}>")}"),
            ("Platform workspace", record.WorkspaceId?.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            (record.Mirror ? "Mirror" : "Build", record.BuildId is null ? null
                : new HtmlPage.Markup($"<a href=\"/view/{(record.Mirror ? "mirrors" : "builds")}/{HtmlPage.Encode(Uri.EscapeDataString(record.BuildId))}\">{HtmlPage.Encode(record.BuildId)}</a>")),
            ("Security scan", HtmlPage.ScanLink(record.ScanId)),
        ]);
        page.Heading("Source");
        page.Table("source",
        [
            ("Source image", record.SourceImage),
            ("Source digest", record.SourceDigest),
            ("Platform", record.Platform ?? "all platforms of the image"),
            ("Registry credentials", record.CredentialsSource switch { "platform" => "from Seqera Platform", "configuration" => "Wave's configured login", _ => "anonymous" }),
        ]);
        page.Heading("Served");
        page.Table("served",
        [
            ("Served image", record.TargetImage),
            ("Served digest", record.ServedDigest ?? "not pulled yet"),
            ("Augmented", record.IsAugmented ? "yes" : "no (served as the source image)"),
        ]);
        if (record.ContainerConfig is { IsEmpty: false } config)
        {
            page.Heading("Container config");
            page.Table("config",
            [
                ("Entrypoint", config.Entrypoint is null ? null : string.Join(' ', config.Entrypoint)),
                ("Command", config.Cmd is null ? null : string.Join(' ', config.Cmd)),
                ("Environment", config.Env is null ? null : string.Join('\n', config.Env)),
                ("Working directory", config.WorkingDir),
                .. (config.Layers ?? []).Select((l, i) => ($"Layer {i + 1}", (object?)$"{l.Location} {l.GzipDigest} ({l.GzipSize} bytes)")),
            ]);
        }
        return Html(page.Render());
    }

    public static async Task<IResult> Build(string id, IBuildStore builds, ContainerScanService scans, TimeProvider time, CancellationToken cancellationToken)
    {
        var build = await builds.FindAsync(id, cancellationToken);
        if (build is null)
        {
            return NotFound("Build not found", $"No build with id '{id}' is known to this Wave service.");
        }
        var scan = await scans.FindScanOfAsync(new ScanOrigin(BuildId: build.BuildId), cancellationToken);
        var log = await builds.ReadLogAsync(id, 0, cancellationToken);
        var progress = Progress(build, log, time.GetUtcNow());
        var page = new HtmlPage($"Build {build.BuildId}");
        page.Raw($"<div id=\"build\" data-log=\"/view/builds/{HtmlPage.Encode(Uri.EscapeDataString(build.BuildId))}/log\" data-next=\"{progress.Next}\" data-completed=\"{(progress.Completed ? "true" : "false")}\"></div>\n");
        page.Table("summary",
        [
            ("Status", new HtmlPage.Markup($"<span id=\"status\" class=\"status {progress.StatusClass}\">{HtmlPage.Encode(progress.Status)}</span>")),
            ("Image", new HtmlPage.Markup($"<code>{HtmlPage.Encode(build.TargetImage)}</code>")),
            ("Image digest", new HtmlPage.Markup($"<span id=\"digest\">{HtmlPage.Encode(progress.Digest)}</span>")),
            ("Platform", build.Platform),
            ("Format", build.Format == "sif" ? "Singularity" : "Docker"),
            ("Requested", HtmlPage.Time(build.CreatedAt)),
            ("Started", new HtmlPage.Markup($"<span id=\"started\">{HtmlPage.Encode(progress.Started)}</span>")),
            ("Finished", new HtmlPage.Markup($"<span id=\"finished\">{HtmlPage.Encode(progress.Finished)}</span>")),
            ("Duration", new HtmlPage.Markup($"<span id=\"duration\">{HtmlPage.Encode(progress.Duration)}</span>")),
            ("Reason", new HtmlPage.Markup($"<span id=\"reason\">{HtmlPage.Encode(progress.Reason)}</span>")),
            ("User", build.UserName is null ? "anonymous" : $"{build.UserName}{(build.UserEmail is null ? "" : $" <{build.UserEmail}>")}"),
            ("Security scan", HtmlPage.ScanLink(scan?.Id)),
        ]);
        if (build.Dockerfile is not null)
        {
            page.Heading(build.Format == "sif" ? "Singularity file" : "Dockerfile").Pre("dockerfile", build.Dockerfile);
        }
        if (build.CondaFile is not null)
        {
            page.Heading("Conda environment").Pre("conda-file", build.CondaFile);
        }
        if (build.SpackFile is not null)
        {
            page.Heading("Spack environment").Pre("spack-file", build.SpackFile);
        }
        page.Heading("Log").Pre("log", log?.Text);
        page.Raw($"<p id=\"log-note\" class=\"muted\">{(progress.Truncated ? "The log reached its size limit; later output was dropped." : "")}</p>\n");
        return Html(page.Render(FollowScript));
    }

    public static async Task<IResult> BuildLog(string id, long? offset, IBuildStore builds, TimeProvider time, CancellationToken cancellationToken)
    {
        if (offset is < 0)
        {
            return ContainerApi.Error(StatusCodes.Status400BadRequest, "offset cannot be negative", "offset");
        }
        var build = await builds.FindAsync(id, cancellationToken);
        var log = build is null ? null : await builds.ReadLogAsync(id, offset ?? 0, cancellationToken);
        return build is null
            ? ContainerApi.Error(StatusCodes.Status404NotFound, $"build '{id}' is unknown")
            : TypedResults.Ok(Progress(build, log, time.GetUtcNow()));
    }

    private static BuildProgress Progress(BuildRecord build, BuildLogSlice? log, DateTimeOffset now)
    {
        var (status, css) = build.Status switch
        {
            BuildStatus.Completed when build.Succeeded == true => ("SUCCEEDED", "ok"),
            BuildStatus.Completed => ("FAILED", "bad"),
            BuildStatus.Running => ("RUNNING", "wait"),
            _ => ("PENDING", "wait"),
        };
        var duration = build.Duration ?? (build.Status == BuildStatus.Running && build.StartedAt is { } s ? now - s : null);
        return new BuildProgress(log?.Text ?? "", log?.NextOffset ?? 0, log?.Truncated ?? false, status, css, build.Status == BuildStatus.Completed,
            HtmlPage.Time(build.StartedAt), HtmlPage.Time(build.CompletedAt), HtmlPage.Duration(duration), build.ImageDigest ?? "–",
            build.Status == BuildStatus.Completed && build.Succeeded != true ? build.FailureReason ?? (build.ExitCode is { } code ? $"exit code {code}" : "–") : "–");
    }

    /// <summary>Polls the log endpoint while the build is not complete; text goes in with textContent, never as markup.</summary>
    private const string FollowScript = """
        (function () {
          var build = document.getElementById('build');
          var next = Number(build.dataset.next);
          var done = build.dataset.completed === 'true';
          var fields = ['started', 'finished', 'duration', 'digest', 'reason'];
          function poll() {
            fetch(build.dataset.log + '?offset=' + next, { cache: 'no-store' })
              .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
              .then(function (p) {
                if (p.text) { document.getElementById('log').textContent += p.text; }
                next = p.next;
                var status = document.getElementById('status');
                status.textContent = p.status;
                status.className = 'status ' + p.statusClass;
                fields.forEach(function (f) { document.getElementById(f).textContent = p[f]; });
                if (p.truncated) { document.getElementById('log-note').textContent = 'The log reached its size limit; later output was dropped.'; }
                done = p.completed && !p.text;
              })
              .catch(function () { })
              .then(function () { if (!done) { setTimeout(poll, 1000); } });
          }
          if (!done) { setTimeout(poll, 1000); }
        })();
        """;

    private static IResult Html(string html, int status = StatusCodes.Status200OK) =>
        TypedResults.Content(html, "text/html; charset=utf-8", statusCode: status);

    private static IResult NotFound(string title, string message) =>
        Html(new HtmlPage(title).Raw($"<p>{HtmlPage.Encode(message)}</p>\n").Render(), StatusCodes.Status404NotFound);
}
