using System.Globalization;
using System.Text.Json.Serialization;

using Microsoft.Extensions.Options;

using Wave.Api.Security;
using Wave.Core.Builds;
using Wave.Core.Persistence;
using Wave.Core.Scans;

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

    /// <summary>
    /// <c>GET /v1alpha1/builds/{id}/status</c>, the Wave server's BuildStatusResponse: RUNNING is reported as PENDING, as
    /// the reference says; <c>duration</c> is a number of seconds, left out (like every null) until the build completed.
    /// </summary>
    public sealed record BuildStatusResponse(
        [property: JsonPropertyName("id")] string Id,
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("startTime")] DateTime StartTime,
        [property: JsonPropertyName("duration"), JsonConverter(typeof(JsonSeconds))] TimeSpan? Duration,
        [property: JsonPropertyName("succeeded")] bool? Succeeded);

    /// <summary>
    /// <c>GET /v1alpha1/builds/{id}</c>: the build record under the Wave server's WaveBuildRecord names and types
    /// (<c>dockerFile</c>, <c>startTime</c>, <c>duration</c> in seconds, <c>exitStatus</c>, <c>format</c> DOCKER or
    /// SINGULARITY, <c>digest</c>), followed by this service's own fields. Who asked for it (user name, email, address)
    /// is shown to an admin only (HTTP Basic, <c>Wave:Admin:Accounts</c>). Null fields are left out.
    /// </summary>
    public sealed record BuildRecordResponse(
        [property: JsonPropertyName("buildId")] string BuildId,
        [property: JsonPropertyName("dockerFile")] string? DockerFile,
        [property: JsonPropertyName("condaFile")] string? CondaFile,
        [property: JsonPropertyName("targetImage")] string TargetImage,
        [property: JsonPropertyName("userName")] string? UserName,
        [property: JsonPropertyName("userEmail")] string? UserEmail,
        [property: JsonPropertyName("userId")] string? UserId,
        [property: JsonPropertyName("requestIp")] string? RequestIp,
        [property: JsonPropertyName("startTime")] DateTime StartTime,
        [property: JsonPropertyName("duration"), JsonConverter(typeof(JsonSeconds))] TimeSpan? Duration,
        [property: JsonPropertyName("exitStatus")] int? ExitStatus,
        [property: JsonPropertyName("platform")] string Platform,
        [property: JsonPropertyName("scanId")] string? ScanId,
        [property: JsonPropertyName("format")] string Format,
        [property: JsonPropertyName("digest")] string? Digest,
        [property: JsonPropertyName("containerId")] string ContainerId,
        [property: JsonPropertyName("spackFile")] string? SpackFile,
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("succeeded")] bool? Succeeded,
        [property: JsonPropertyName("failureReason")] string? FailureReason,
        [property: JsonPropertyName("createdAt")] DateTime CreatedAt,
        [property: JsonPropertyName("startedAt")] DateTime? StartedAt,
        [property: JsonPropertyName("completedAt")] DateTime? CompletedAt,
        [property: JsonPropertyName("attempt")] int Attempt)
    {
        public const string DockerFormat = "DOCKER";
        public const string SingularityFormat = "SINGULARITY";

        public static BuildRecordResponse Of(BuildRecord r, string? scanId, bool admin) => new(
            r.BuildId, r.Dockerfile, r.CondaFile, r.TargetImage, admin ? r.UserName : null, admin ? r.UserEmail : null, r.UserId, admin ? r.RequestIp : null,
            r.CreatedAt.UtcDateTime, r.Duration, r.ExitCode, r.Platform, scanId, r.Format == BuildPlanner.SifFormat ? SingularityFormat : DockerFormat,
            r.ImageDigest, r.ContainerId, r.SpackFile, r.Status.ToWire(), r.Succeeded, r.FailureReason, r.CreatedAt.UtcDateTime, r.StartedAt?.UtcDateTime,
            r.CompletedAt?.UtcDateTime, r.Attempt);
    }

    private static async Task<IResult> GetBuild(string buildId, HttpContext context, IBuildStore store, ContainerScanService scans, IOptions<AdminOptions> admin,
        CancellationToken cancellationToken)
    {
        if (!TryNormalize(buildId, out var id))
        {
            return BadId(buildId);
        }
        var record = await store.FindAsync(id, cancellationToken);
        if (record is null)
        {
            return Unknown(id);
        }
        var scan = await scans.FindScanOfAsync(new ScanOrigin(BuildId: id), cancellationToken);
        var isAdmin = admin.Value.Accounts.Count > 0 && BasicAccounts.Authenticate(context.Request.Headers.Authorization.ToString(), admin.Value.Accounts) is not null;
        return TypedResults.Json(BuildRecordResponse.Of(record, scan?.Id, isAdmin), ContainerRecordApi.OmitNulls);
    }

    private static async Task<IResult> GetStatus(string buildId, IBuildStore store, CancellationToken cancellationToken) =>
        await WithRecord(buildId, store, cancellationToken, record => TypedResults.Json(new BuildStatusResponse(
            record.BuildId,
            record.Status == BuildStatus.Completed ? "COMPLETED" : "PENDING",
            (record.StartedAt ?? record.CreatedAt).UtcDateTime,
            record.Status == BuildStatus.Completed ? record.Duration : null,
            record.Succeeded), ContainerRecordApi.OmitNulls));

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
