using System.Text.Json;
using System.Text.Json.Serialization;

using Microsoft.Extensions.Options;

using Wave.Api.Records;
using Wave.Api.Security;
using Wave.Core.Requests;
using Wave.Core.Scans;
using Wave.Core.State;

namespace Wave.Api.Apis;

/// <summary>What a token was issued for (also after it expired), its revocation by an administrator, and its status.</summary>
public static class ContainerRecordApi
{
    public static IEndpointRouteBuilder MapContainerRecordApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/container-token/{token}", Describe);
        app.MapDelete("/container-token/{token}", Revoke);
        app.MapGet("/v1alpha2/container/{requestId}", Record);
        app.MapGet("/v1alpha2/container/{requestId}/status", Status);
        return app;
    }

    /// <summary>JSON as the Wave server writes these answers: null fields are left out.</summary>
    public static readonly JsonSerializerOptions OmitNulls = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>The record of a token; the user shows as an id only, unless an admin asks (HTTP Basic, Wave:Admin:Accounts).</summary>
    public static async Task<IResult> Describe(string token, HttpContext context, IContainerRecordStore records, IOptions<AdminOptions> admin, TimeProvider time)
    {
        var record = await records.FindAsync(token, context.RequestAborted);
        return record is null
            ? Unknown(token)
            : TypedResults.Ok(DescribeContainerResponse.Of(record, time.GetUtcNow(), IsAdmin(context, admin.Value)));
    }

    /// <summary>The record of any request id (a token, or a freeze request's own id), as the Wave server's WaveContainerRecord.</summary>
    public static async Task<IResult> Record(string requestId, HttpContext context, IContainerRecordStore records, IOptions<AdminOptions> admin, TimeProvider time)
    {
        var record = await records.FindAsync(requestId, context.RequestAborted);
        return record is null
            ? Unknown(requestId)
            : TypedResults.Json(ContainerRequestRecordResponse.Of(record, time.GetUtcNow(), IsAdmin(context, admin.Value)), OmitNulls);
    }

    private static bool IsAdmin(HttpContext context, AdminOptions admin) =>
        admin.Accounts.Count > 0 && BasicAccounts.Authenticate(context.Request.Headers.Authorization.ToString(), admin.Accounts) is not null;

    /// <summary>
    /// Revokes at once: the token leaves the shared state (every proxy's next lookup misses it), the revocation is
    /// announced to every process (each registry proxy drops the token from its request cache on receipt, see
    /// ContainerRequestCache), and the record is marked. When the state store cannot be reached the answer is 503 and
    /// the revocation can simply be asked again.
    /// </summary>
    public static async Task<IResult> Revoke(string token, HttpContext context, IContainerRecordStore records, ContainerRequestStore requests,
        IOptions<AdminOptions> admin, TimeProvider time, ILogger<ContainerRecorder> logger)
    {
        var cancellationToken = context.RequestAborted;
        var account = BasicAccounts.Authenticate(context.Request.Headers.Authorization.ToString(), admin.Value.Accounts);
        if (account is null)
        {
            return BasicAccounts.Challenge(context, "Wave admin", "revoking a container token needs HTTP Basic credentials of a configured admin account (Wave:Admin:Accounts)");
        }
        var now = time.GetUtcNow();
        bool removed;
        try
        {
            removed = await requests.RevokeAsync(token, cancellationToken);
        }
        catch (StateUnavailableException e)
        {
            logger.LogWarning("Revoking container token {Token} failed: {Reason}", token, e.Message);
            return ContainerApi.Error(StatusCodes.Status503ServiceUnavailable,
                $"container token '{token}' could not be revoked now, retry: Wave's state store is unavailable: {e.Message}");
        }
        var recorded = ContainerTokens.IsWellFormed(token) && await records.MarkRevokedAsync(token, now, cancellationToken);
        if (!removed && !recorded)
        {
            return Unknown(token);
        }
        logger.LogInformation("Container token {Token} revoked by {Account}", token, account);
        var record = recorded ? await records.FindAsync(token, cancellationToken) : null;
        return TypedResults.Ok(new RevokeContainerResponse(token, true, (record?.RevokedAt ?? now).UtcDateTime));
    }

    /// <summary>
    /// Where a request stands, for every request id. An augmentation (or a build found done) is DONE at once; a build
    /// is PENDING while queued, BUILDING while it runs and DONE when it completed, with <c>succeeded</c>, and on failure
    /// the reason and the build's page. <c>creationTime</c> is when the build (or the request) started.
    /// </summary>
    public static async Task<IResult> Status(string requestId, HttpContext context, IContainerRecordStore records, IContainerBuildStatus builds,
        Core.Mirrors.IMirrorStore mirrors, ContainerScanService scans, TimeProvider time)
    {
        var cancellationToken = context.RequestAborted;
        var record = await records.FindAsync(requestId, cancellationToken);
        if (record is null)
        {
            return Unknown(requestId);
        }
        if (record.Mirror && record.BuildId is { } mirrorId)
        {
            return await MirrorStatusAsync(record, mirrorId, mirrors, scans, context, cancellationToken);
        }
        if (record.BuildId is null)
        {
            // Ready the moment it was answered: the upstream image was resolved (or found built) before.
            return await WithScanAsync(new ContainerStatusResponse(record.Token, ContainerStatusResponse.Done, null, null, record.ScanId, null, true, null, null,
                record.CreatedAt.UtcDateTime, time.GetUtcNow() - record.CreatedAt), record, scans, context);
        }
        var build = await builds.FindAsync(record.BuildId, cancellationToken);
        if (build is null)
        {
            return StatusAnswer(new ContainerStatusResponse(record.Token, ContainerStatusResponse.Pending, record.BuildId, null, record.ScanId, null, null, null, null,
                record.CreatedAt.UtcDateTime, null));
        }
        if (!build.Completed)
        {
            return StatusAnswer(new ContainerStatusResponse(record.Token, build.Running ? ContainerStatusResponse.Building : ContainerStatusResponse.Pending,
                build.BuildId, null, record.ScanId, null, null, null, null, build.StartedAt.UtcDateTime, null));
        }
        var failed = build.Succeeded != true;
        var server = $"{context.Request.Scheme}://{context.Request.Host}";
        return await WithScanAsync(new ContainerStatusResponse(record.Token, ContainerStatusResponse.Done, build.BuildId, null, record.ScanId, null, build.Succeeded == true,
            failed ? $"{ContainerStatusResponse.BuildFailed}{(build.Reason is { Length: > 0 } reason ? " - " + reason : "")}" : null,
            failed ? $"{server}/view/builds/{Uri.EscapeDataString(build.BuildId)}" : null,
            build.StartedAt.UtcDateTime, build.Duration), record, scans, context);
    }

    /// <summary>
    /// A ready image whose request has a required scan: SCANNING until the scan completed, then DONE with the findings
    /// by severity, and succeeded only when the scan passed the request's scanLevels (the reason and the scan's page
    /// otherwise). An async scan changes nothing of the status.
    /// </summary>
    private static async Task<IResult> WithScanAsync(ContainerStatusResponse status, ContainerRecord record, ContainerScanService scans, HttpContext context)
    {
        if (status.Succeeded != true || record.ScanId is not { } scanId || record.ScanMode != ScanMode.Required.ToWire())
        {
            return StatusAnswer(status);
        }
        var scan = await scans.GetScanAsync(scanId, context.RequestAborted);
        var details = $"{context.Request.Scheme}://{context.Request.Host}/view/scans/{Uri.EscapeDataString(scanId)}";
        if (scan is null)
        {
            return StatusAnswer(status with { Succeeded = false, Reason = $"the security scan {scanId} of the container is missing from Wave's scan store", DetailsUri = null });
        }
        if (!scan.Done)
        {
            return StatusAnswer(status with { Status = ContainerStatusResponse.Scanning, Succeeded = null, Duration = null });
        }
        var verdict = ScanPolicy.Evaluate(scan, record.ScanLevels);
        return StatusAnswer(status with
        {
            Vulnerabilities = scan.Summary,
            Succeeded = verdict.Passed,
            Reason = verdict.Reason,
            DetailsUri = verdict.Reason is null ? null : details,
            Duration = status.Duration is { } d && scan.Duration is { } s ? d + s : status.Duration ?? scan.Duration,
        });
    }

    /// <summary>
    /// A mirror is PENDING until its copy is done (queued or copying: there is no build to report), then DONE with
    /// <c>succeeded</c>; a failure has the server's reason followed by this service's, and the mirror's page.
    /// </summary>
    private static async Task<IResult> MirrorStatusAsync(ContainerRecord record, string mirrorId, Core.Mirrors.IMirrorStore mirrors,
        ContainerScanService scans, HttpContext context, CancellationToken cancellationToken)
    {
        var mirror = await mirrors.FindAsync(mirrorId, cancellationToken);
        if (mirror is not { Completed: true })
        {
            return StatusAnswer(new ContainerStatusResponse(record.Token, ContainerStatusResponse.Pending, null, mirrorId, record.ScanId, null, null, null, null,
                (mirror?.CreatedAt ?? record.CreatedAt).UtcDateTime, null));
        }
        var failed = mirror.Succeeded != true;
        var server = $"{context.Request.Scheme}://{context.Request.Host}";
        // A copy that succeeded is then subject to its required scan, as a build is.
        return await WithScanAsync(new ContainerStatusResponse(record.Token, ContainerStatusResponse.Done, null, mirrorId, record.ScanId, null, mirror.Succeeded == true,
            failed ? $"{ContainerStatusResponse.MirrorFailed}{(mirror.FailureReason is { Length: > 0 } reason ? " - " + reason : "")}" : null,
            failed ? $"{server}/view/mirrors/{Uri.EscapeDataString(mirrorId)}" : null,
            mirror.CreatedAt.UtcDateTime, mirror.Duration), record, scans, context);
    }

    private static IResult StatusAnswer(ContainerStatusResponse status) => TypedResults.Json(status, OmitNulls);

    private static IResult Unknown(string id) =>
        ContainerApi.Error(StatusCodes.Status404NotFound, $"container request '{id}' is unknown: it was never issued by this Wave service");
}
