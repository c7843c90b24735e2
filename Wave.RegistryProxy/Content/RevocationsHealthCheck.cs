using System.Globalization;

using Microsoft.Extensions.Diagnostics.HealthChecks;

using Wave.Core.Requests;
using Wave.Core.State;

namespace Wave.RegistryProxy.Content;

/// <summary>
/// The <c>revocations</c> check of the registry proxy: whether it receives token revocation notices now. Healthy while
/// its subscription listens (always in embedded mode, where notices are delivered in process). While the subscription
/// is down the proxy still answers correctly, since it then serves nothing from its request cache and reads every
/// request from the shared state; it is only slower, so the check reports the registration's failure status
/// (<see cref="HealthStatus.Degraded"/>) with a description rather than failing readiness.
/// </summary>
public sealed class RevocationsHealthCheck(ContainerRequestCache cache, IStateNotifications notifications) : IHealthCheck
{
    public const string Name = "revocations";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var epoch = cache.SubscriptionEpoch;
        if (epoch != 0)
        {
            return Task.FromResult(HealthCheckResult.Healthy(notifications is InMemoryStateNotifications
                ? "token revocations are delivered in process (embedded mode)"
                : string.Create(CultureInfo.InvariantCulture,
                    $"subscribed to token revocations on channel {ContainerRequestStore.RevokedChannel} (subscription {epoch})")));
        }
        return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus,
            $"not subscribed to token revocations (channel {ContainerRequestStore.RevokedChannel}): a revocation may be missed, so the " +
            "request cache is not used and every pull reads the shared state until the subscription is back"));
    }
}
