using System.Globalization;
using System.Text.Json.Serialization;

using Wave.Core.Builds;
using Wave.Core.Persistence;

namespace Wave.Api.Apis;

/// <summary>
/// <c>/v1alpha1/builds/{buildId}</c>: a build's record, status, log, Conda lock and SIF file (<see cref="SifDownloadApi"/>). Ids are taken as Wave prints them
/// (<c>bd-5e49881e6ad74121_1</c>) and, as in the API reference's examples, without the prefix (<c>5e49881e6ad74121_1</c>).
/// </summary>
public static class BuildsApi
{
    public const string LogNextOffsetHeader = "Wave-Log-Next-Offset";
    public const string LogTruncatedHeader = "Wave-Log-Truncated";

    public static IEndpointRouteBuilder MapBuildsApi(this IEndpointRouteBuilder app)
    {
        var builds = app.MapGroup("/v1alpha1/builds/{buildId}").AddEndpointFilter(async (context, next) =>
        {
            try
            {
                return await next(context);
            }
            catch (System.Data.Common.DbException e)
            {
                return ContainerApi.Error(StatusCodes.Status503ServiceUnavailable, $"the build store is unavailable, try again: {e.Message}");
            }
        });
        builds.MapGet("", GetBuild);
        builds.MapGet("/status", GetStatus);
        builds.MapGet("/logs", GetLogs);
        builds.MapGet("/condalock", GetCondaLock);
        builds.MapSifDownload();
        return app;
    }

    /// <summary><c>GET /v1alpha1/builds/{id}/status</c>; RUNNING is reported as PENDING, as the reference says.</summary>
    public sealed record BuildStatusResponse(
        [property: JsonPropertyName("id")] string Id,
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("startTime")] DateTime StartTime,
        [property: JsonPropertyName("duration")] double? Duration,
        [property: JsonPropertyName("succeeded")] bool? Succeeded);

    private static async Task<IResult> GetBuild(string buildId, IBuildStore store, CancellationToken cancellationToken) =>
        await WithRecord(buildId, store, cancellationToken, record => TypedResults.Json(record));

    private static async Task<IResult> GetStatus(string buildId, IBuildStore store, CancellationToken cancellationToken) =>
        await WithRecord(buildId, store, cancellationToken, record => TypedResults.Json(new BuildStatusResponse(
            record.BuildId,
            record.Status == BuildStatus.Completed ? "COMPLETED" : "PENDING",
            (record.StartedAt ?? record.CreatedAt).UtcDateTime,
            record.Duration?.TotalSeconds,
            record.Succeeded)));

    /// <summary>The log as text; <c>?offset=N</c> reads from character N on, and the answer says where to continue.</summary>
    private static async Task<IResult> GetLogs(string buildId, string? offset, HttpContext context, IBuildStore store, CancellationToken cancellationToken)
    {
        if (!TryNormalize(buildId, out var id))
        {
            return BadId(buildId);
        }
        long from = 0;
        if (offset is not null && (!long.TryParse(offset, NumberStyles.None, CultureInfo.InvariantCulture, out from) || from < 0))
        {
            return ContainerApi.Error(StatusCodes.Status400BadRequest, $"offset '{offset}' is not a non-negative whole number", "offset");
        }
        var slice = await store.ReadLogAsync(id, from, cancellationToken);
        if (slice is null)
        {
            return Unknown(id);
        }
        context.Response.Headers[LogNextOffsetHeader] = slice.NextOffset.ToString(CultureInfo.InvariantCulture);
        context.Response.Headers[LogTruncatedHeader] = slice.Truncated ? "true" : "false";
        return TypedResults.Text(slice.Text, "text/plain", System.Text.Encoding.UTF8);
    }

    private static async Task<IResult> GetCondaLock(string buildId, IBuildStore store, CancellationToken cancellationToken)
    {
        if (!TryNormalize(buildId, out var id))
        {
            return BadId(buildId);
        }
        var condaLock = await store.GetCondaLockAsync(id, cancellationToken);
        if (condaLock is not null)
        {
            return TypedResults.Text(condaLock, "text/plain", System.Text.Encoding.UTF8);
        }
        var record = await store.FindAsync(id, cancellationToken);
        return record is null
            ? Unknown(id)
            : ContainerApi.Error(StatusCodes.Status404NotFound, record.Status == BuildStatus.Completed
                ? $"build {id} has no Conda lock: only a succeeded Conda build prints one"
                : $"build {id} has no Conda lock yet: it is {record.Status.ToWire()}");
    }

    private static async Task<IResult> WithRecord(string buildId, IBuildStore store, CancellationToken cancellationToken, Func<BuildRecord, IResult> answer)
    {
        if (!TryNormalize(buildId, out var id))
        {
            return BadId(buildId);
        }
        var record = await store.FindAsync(id, cancellationToken);
        return record is null ? Unknown(id) : answer(record);
    }

    internal static bool TryNormalize(string buildId, out string id)
    {
        id = buildId.StartsWith(BuildId.Prefix, StringComparison.Ordinal) ? buildId : BuildId.Prefix + buildId;
        return BuildId.TryParse(id, out _, out _);
    }

    private static IResult BadId(string buildId) =>
        ContainerApi.Error(StatusCodes.Status400BadRequest, $"buildId '{buildId}' is not a build id (bd-<16 hex digits>_<attempt>)", "buildId");

    private static IResult Unknown(string id) => ContainerApi.Error(StatusCodes.Status404NotFound, $"build {id} is unknown");
}
