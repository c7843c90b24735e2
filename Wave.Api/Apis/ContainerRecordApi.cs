using Microsoft.Extensions.Options;

using Wave.Api.Records;
using Wave.Api.Security;
using Wave.Core.Requests;
using Wave.Core.State;

namespace Wave.Api.Apis;

/// <summary>What a token was issued for (also after it expired), its revocation by an administrator, and its status.</summary>
public static class ContainerRecordApi
{
    public static IEndpointRouteBuilder MapContainerRecordApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/container-token/{token}", Describe);
        app.MapDelete("/container-token/{token}", Revoke);
        app.MapGet("/v1alpha2/container/{token}/status", Status);
        return app;
    }

    public static async Task<IResult> Describe(string token, IContainerRecordStore records, TimeProvider time, CancellationToken cancellationToken)
    {
        var record = await records.FindAsync(token, cancellationToken);
        return record is null
            ? Unknown(token)
            : TypedResults.Ok(new DescribeContainerResponse(record.Token, ContainerRecordDescription.Of(record, time.GetUtcNow())));
    }

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

    public static async Task<IResult> Status(string token, HttpContext context, IContainerRecordStore records, IContainerBuildStatus builds, TimeProvider time)
    {
        var cancellationToken = context.RequestAborted;
        var record = await records.FindAsync(token, cancellationToken);
        if (record is null)
        {
            return Unknown(token);
        }
        var server = $"{context.Request.Scheme}://{context.Request.Host}";
        if (record.BuildId is null)
        {
            // An augmentation is ready the moment its token is issued: the upstream image was resolved before.
            return TypedResults.Ok(new ContainerStatusResponse(record.Token, ContainerStatusResponse.Done, null, null, null, null, true, null,
                $"{server}/view/containers/{record.Token}", record.CreatedAt.UtcDateTime, ContainerStatusResponse.FormatDuration(TimeSpan.Zero)));
        }
        var build = await builds.FindAsync(record.BuildId, cancellationToken);
        var details = $"{server}/view/builds/{Uri.EscapeDataString(record.BuildId)}";
        if (build is null)
        {
            return TypedResults.Ok(new ContainerStatusResponse(record.Token, ContainerStatusResponse.Pending, record.BuildId, null, null, null, null, null,
                details, record.CreatedAt.UtcDateTime, null));
        }
        return TypedResults.Ok(new ContainerStatusResponse(record.Token, build.Completed ? ContainerStatusResponse.Done : ContainerStatusResponse.Pending,
            build.BuildId, null, null, null, build.Succeeded, build.Completed && build.Succeeded == false ? build.Reason : null, details,
            record.CreatedAt.UtcDateTime, build.Duration is { } d ? ContainerStatusResponse.FormatDuration(d) : null));
    }

    private static IResult Unknown(string token) =>
        ContainerApi.Error(StatusCodes.Status404NotFound, $"container token '{token}' is unknown: it was never issued by this Wave service");
}
