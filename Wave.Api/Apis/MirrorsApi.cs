using System.Text.Json;
using System.Text.Json.Serialization;

using Microsoft.Extensions.Options;

using Wave.Api.Records;
using Wave.Api.Security;
using Wave.Core.Mirrors;
using Wave.Core.Scans;

namespace Wave.Api.Apis;

/// <summary><c>/v1alpha1/mirrors/{mirrorId}</c>: a mirror's record (the Wave server's MirrorResult) and its log.</summary>
public static class MirrorsApi
{
    public static IEndpointRouteBuilder MapMirrorsApi(this IEndpointRouteBuilder app)
    {
        var mirrors = app.MapGroup("/v1alpha1/mirrors/{mirrorId}").AddEndpointFilter(async (context, next) =>
        {
            try
            {
                return await next(context);
            }
            catch (System.Data.Common.DbException e)
            {
                return ContainerApi.Error(StatusCodes.Status503ServiceUnavailable, $"the mirror store is unavailable, try again: {e.Message}");
            }
        });
        mirrors.MapGet("", GetMirror);
        mirrors.MapGet("/logs", GetLogs);
        return app;
    }

    /// <summary>
    /// The Wave server's MirrorResult: <c>mirrorId</c>, <c>digest</c> (the source's, which the target gets), source and
    /// target, <c>platform</c> (left out: every platform is copied), <c>creationTime</c>, <c>offsetId</c>, who asked
    /// (<c>userId</c>; user name and email to an admin only), <c>status</c> PENDING or COMPLETED, <c>duration</c> in
    /// seconds, <c>exitCode</c> (0 once it succeeded, 1 once it failed: the copy is Wave's own, no process exits) and
    /// <c>logs</c>; then this service's own fields. Null fields are left out.
    /// </summary>
    public sealed record MirrorResultResponse(
        [property: JsonPropertyName("mirrorId")] string MirrorId,
        [property: JsonPropertyName("digest")] string Digest,
        [property: JsonPropertyName("sourceImage")] string SourceImage,
        [property: JsonPropertyName("targetImage")] string TargetImage,
        [property: JsonPropertyName("platform")] string? Platform,
        [property: JsonPropertyName("creationTime")] DateTime CreationTime,
        [property: JsonPropertyName("offsetId")] string? OffsetId,
        [property: JsonPropertyName("userName")] string? UserName,
        [property: JsonPropertyName("userEmail")] string? UserEmail,
        [property: JsonPropertyName("userId")] JsonElement? UserId,
        [property: JsonPropertyName("scanId")] string? ScanId,
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("duration"), JsonConverter(typeof(JsonSeconds))] TimeSpan? Duration,
        [property: JsonPropertyName("exitCode")] int? ExitCode,
        [property: JsonPropertyName("logs")] string? Logs,
        [property: JsonPropertyName("succeeded")] bool? Succeeded,
        [property: JsonPropertyName("reason")] string? Reason,
        [property: JsonPropertyName("state")] string State,
        [property: JsonPropertyName("attempt")] int Attempt,
        [property: JsonPropertyName("startedAt")] DateTime? StartedAt,
        [property: JsonPropertyName("completedAt")] DateTime? CompletedAt,
        [property: JsonPropertyName("blobsCopied")] int BlobsCopied,
        [property: JsonPropertyName("blobsSkipped")] int BlobsSkipped,
        [property: JsonPropertyName("bytesCopied")] long BytesCopied,
        [property: JsonPropertyName("manifests")] int Manifests)
    {
        public const string Pending = "PENDING";
        public const string Completed = "COMPLETED";

        public static MirrorResultResponse Of(MirrorRecord r, string? logs, string? scanId, bool admin) => new(
            r.MirrorId, r.SourceDigest, r.SourceImage, r.TargetImage, null, r.CreatedAt.UtcDateTime, r.OffsetId,
            admin ? r.UserName : null, admin ? r.UserEmail : null, r.UserId is null ? null : RecordUser.IdOf(r.UserId), scanId,
            r.Completed ? Completed : Pending, r.Completed ? r.Duration : null, r.Completed ? (r.Succeeded == true ? 0 : 1) : null,
            string.IsNullOrEmpty(logs) ? null : logs, r.Succeeded, r.FailureReason, Core.Persistence.BuildStatusNames.ToWire(r.Status), r.Attempt,
            r.StartedAt?.UtcDateTime, r.CompletedAt?.UtcDateTime, r.Counts.BlobsCopied, r.Counts.BlobsSkipped, r.Counts.BytesCopied, r.Counts.Manifests);
    }

    private static async Task<IResult> GetMirror(string mirrorId, HttpContext context, IMirrorStore store, ContainerScanService scans, IOptions<AdminOptions> admin,
        CancellationToken cancellationToken)
    {
        if (Check(mirrorId) is { } refusal)
        {
            return refusal;
        }
        var record = await store.FindAsync(mirrorId, cancellationToken);
        if (record is null)
        {
            return Unknown(mirrorId);
        }
        var logs = await store.ReadLogAsync(mirrorId, cancellationToken);
        var scan = await scans.FindScanOfAsync(new ScanOrigin(MirrorId: mirrorId), cancellationToken);
        var isAdmin = admin.Value.Accounts.Count > 0 && BasicAccounts.Authenticate(context.Request.Headers.Authorization.ToString(), admin.Value.Accounts) is not null;
        return TypedResults.Json(MirrorResultResponse.Of(record, logs, scan?.Id, isAdmin), ContainerRecordApi.OmitNulls);
    }

    /// <summary>The log as the server serves it: a download (<c>&lt;id&gt;.log</c>), readable while the copy runs; 404 while it is empty.</summary>
    private static async Task<IResult> GetLogs(string mirrorId, HttpContext context, IMirrorStore store, CancellationToken cancellationToken)
    {
        if (Check(mirrorId) is { } refusal)
        {
            return refusal;
        }
        var logs = await store.ReadLogAsync(mirrorId, cancellationToken);
        if (logs is null)
        {
            return Unknown(mirrorId);
        }
        if (logs.Length == 0)
        {
            return ContainerApi.Error(StatusCodes.Status404NotFound, $"mirror '{mirrorId}' has no log yet: its copy has not started");
        }
        context.Response.Headers.ContentDisposition = $"attachment; filename={mirrorId}.log";
        return TypedResults.Bytes(System.Text.Encoding.UTF8.GetBytes(logs), "application/octet-stream");
    }

    private static IResult? Check(string mirrorId) => MirrorId.TryParse(mirrorId, out _, out _)
        ? null
        : ContainerApi.Error(StatusCodes.Status400BadRequest, $"mirrorId '{mirrorId}' is not a mirror id (mr-<16 hex digits>_<attempt>)", "mirrorId");

    private static IResult Unknown(string mirrorId) =>
        ContainerApi.Error(StatusCodes.Status404NotFound, $"mirror '{mirrorId}' is unknown to this Wave service");
}
