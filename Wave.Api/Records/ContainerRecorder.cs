using System.Data.Common;

using Wave.Api.Containers;
using Wave.Api.Identity;
using Wave.Core.Requests;

namespace Wave.Api.Records;

/// <summary>
/// Writes the durable record of a request before its token is usable, so every token that can be pulled has a record.
/// A database that cannot be reached is a 503: a token is not handed out unrecorded.
/// </summary>
public sealed class ContainerRecorder(IContainerRecordStore records, ILogger<ContainerRecorder> logger)
{
    public async Task RecordAsync(ContainerRequest request, PlatformAccess? platform, string? credentialsSource, RecordDetails? details, CancellationToken cancellationToken)
    {
        var record = ContainerRecords.From(request, platform?.WorkspaceId, platform?.Name, credentialsSource, details);
        try
        {
            await records.CreateAsync(record, cancellationToken);
        }
        catch (Exception e) when (e is DbException or TimeoutException)
        {
            logger.LogWarning("Recording container token {Token} failed: {Error}", request.Token, e.Message);
            throw new ApiException(StatusCodes.Status503ServiceUnavailable, $"the request record store is unavailable, try again: {e.Message}");
        }
    }
}
