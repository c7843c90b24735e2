using Wave.AppHost.Orchestration;

namespace Wave.AppHost.Dashboard;

/// <summary>
/// The dashboard on the AppHost's own port: <c>/</c> is the page, <c>/api/resources</c> and <c>/api/traces</c> what
/// it shows, and <c>/v1/traces</c> (with <c>/v1/metrics</c>, <c>/v1/logs</c>) the OTLP/HTTP receiver.
/// </summary>
public static class DashboardEndpoints
{
    public static WebApplication MapDashboard(this WebApplication app)
    {
        app.MapGet("/", () => Results.Content(DashboardPage.Html, "text/html; charset=utf-8"));
        app.MapGet("/api/resources", (ResourceBoard board, int? logLines) => Results.Json(board.Snapshot(Math.Clamp(logLines ?? 50, 0, 500))));
        app.MapGet("/api/traces", (TraceStore traces) => Results.Json(new
        {
            countsByService = traces.CountsByService(),
            recent = traces.Recent(100),
        }));
        app.MapPost("/v1/traces", async (HttpRequest request, TraceStore traces) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, request.HttpContext.RequestAborted);
            try
            {
                traces.Add(OtlpTraceReader.Read(body.GetBuffer().AsSpan(0, (int)body.Length)));
            }
            catch (Exception e) when (e is FormatException or ArgumentOutOfRangeException or IndexOutOfRangeException or OverflowException)
            {
                return Results.BadRequest(e.Message);
            }
            return Results.Bytes([], "application/x-protobuf");
        });
        // Metrics and logs are accepted (so exporters do not retry) but not shown.
        app.MapPost("/v1/metrics", () => Results.Bytes([], "application/x-protobuf"));
        app.MapPost("/v1/logs", () => Results.Bytes([], "application/x-protobuf"));
        return app;
    }
}
