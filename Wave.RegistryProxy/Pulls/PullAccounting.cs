using Microsoft.Extensions.Options;

using Wave.Core.Identity;
using Wave.Core.Layers;
using Wave.Core.Metrics;
using Wave.Core.RateLimits;
using Wave.Core.Requests;
using Wave.RegistryProxy.Errors;

namespace Wave.RegistryProxy.Pulls;

/// <summary>
/// What a pull costs and counts. A pull is a manifest GET through a token that answers an image manifest (an index
/// is not a pull: the client then asks for one of its manifests). It is limited per user (or client IP), and counted
/// by day, organisation and architecture; it is also a Fusion pull when the request's layers come from the Fusion host.
/// </summary>
public sealed class PullAccounting(RateLimiter limiter, UsageMetrics metrics, IOptions<MetricsOptions> options, ILogger<PullAccounting> logger)
{
    public async Task AdmitAsync(ContainerRequest request, string? clientIp, CancellationToken cancellationToken)
    {
        var decision = await limiter.AcquireAsync(RateLimitedAction.Pull, request.User, clientIp, cancellationToken);
        if (!decision.Allowed)
        {
            throw new OciErrorException(StatusCodes.Status429TooManyRequests, OciErrorCodes.TooManyRequests, decision.Message)
            {
                RetryAfter = decision.RetryAfter,
            };
        }
    }

    public async Task RecordAsync(ContainerRequest request, string? architecture, CancellationToken cancellationToken)
    {
        var organization = WaveUser.OrganizationOf(request.User);
        try
        {
            await metrics.RecordAsync(UsageMetric.Pulls, organization, architecture, cancellationToken);
            if (IsFusion(request))
            {
                await metrics.RecordAsync(UsageMetric.Fusion, organization, architecture, cancellationToken);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A pull that was served is not failed afterwards because it could not be counted.
            logger.LogWarning(e, "Could not count the pull of token {Token}", request.Token);
        }
    }

    private bool IsFusion(ContainerRequest request)
    {
        var fusionHost = options.Value.FusionHost;
        return !string.IsNullOrEmpty(fusionHost) && (request.ContainerConfig?.Layers ?? []).Any(layer =>
            LayerLocation.TryParse(layer.Location, out var location, out _)
            && location is LayerLocation.Remote remote
            && string.Equals(remote.Uri.Host, fusionHost, StringComparison.OrdinalIgnoreCase));
    }
}
