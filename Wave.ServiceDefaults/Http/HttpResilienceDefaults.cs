using System.Net;

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;

using Polly;

namespace Wave.ServiceDefaults.Http;

/// <summary>
/// The standard resilience handler (rate limiter, total timeout, retry, circuit breaker, attempt timeout) on every
/// HttpClient, as Aspire's template adds it, with what a registry proxy needs changed:
/// <list type="bullet">
/// <item><b>Only idempotent requests are retried</b> (GET, HEAD, OPTIONS, TRACE): POST, PUT, PATCH, DELETE are sent
/// once (<see cref="HttpRetryStrategyOptionsExtensions.DisableForUnsafeHttpMethods"/>). A blob upload's POST or PATCH
/// sent twice starts or extends an upload twice, and the request's content may be a stream that cannot be sent again.</item>
/// <item><b>A 401 is never retried</b>: it is an answer (a challenge, or refused credentials), not a failure that
/// passes; the registry client answers a challenge itself, once. The retried answers are those that pass: 408, 429
/// and 5xx, and no answer at all (a refused or broken connection, an attempt timed out). A connection the
/// outbound-address policy would not open (<see cref="Wave.Core.Security.OutboundConnectionGuard"/>) is not retried
/// either: the same address would be refused again.</item>
/// <item><b>Timeouts bound the wait for an answer's headers, never the reading of a body.</b> Every registry call
/// is sent with <see cref="HttpCompletionOption.ResponseHeadersRead"/>: the pipeline (and its timeouts) ends when
/// the headers are in, and a 5 GB layer streams for as long as it takes. The attempt timeout is 30 s (the standard
/// 10 s is short for a registry under load answering a manifest it has to fetch from its storage), the total, across
/// retries, 90 s. HttpClient's own timeout (100 s by default) also ends with the headers.</item>
/// <item><b>Back-off</b> from 200 ms, exponential with jitter, 3 retries; a Retry-After is honoured up to 2 s, since
/// a pull waits on the answer and its client retries by itself.</item>
/// <item><b>One circuit breaker and rate limiter per host</b> (<c>SelectPipelineByAuthority</c>): one registry
/// that fails must not open the circuit for all the others the proxy serves. The concurrency limit is raised to 10,000
/// requests in flight per host (from 1,000): a proxy holding a thousand pulls open is the normal case, not an overload.</item>
/// </list>
/// Every value can be overridden in configuration under <see cref="Section"/> (the names of
/// <see cref="HttpStandardResilienceOptions"/>, e.g. <c>Wave:Http:Resilience:AttemptTimeout:Timeout=00:00:10</c>).
/// </summary>
public static class HttpResilienceDefaults
{
    public const string Section = "Wave:Http:Resilience";

    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan TotalRequestTimeout = TimeSpan.FromSeconds(90);
    public static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(200);
    public static readonly TimeSpan LongestRetryAfter = TimeSpan.FromSeconds(2);
    public const int MaxRetryAttempts = 3;
    public const int PermitLimit = 10_000;

    public static void Add(IHttpClientBuilder http, IConfigurationSection overrides)
    {
        http.AddStandardResilienceHandler(options =>
        {
            Apply(options);
            overrides.Bind(options);
        }).SelectPipelineByAuthority();
    }

    public static void Apply(HttpStandardResilienceOptions options)
    {
        options.AttemptTimeout.Timeout = AttemptTimeout;
        options.TotalRequestTimeout.Timeout = TotalRequestTimeout;
        // The breaker samples at least twice the attempt timeout (the options' own rule).
        options.CircuitBreaker.SamplingDuration = AttemptTimeout * 2;
        // A refused address is Wave's decision, not the host failing: it neither opens the circuit nor is retried.
        var failure = options.CircuitBreaker.ShouldHandle;
        options.CircuitBreaker.ShouldHandle = args => Wave.Core.Security.OutboundAddressRefusedException.IsIn(args.Outcome.Exception)
            ? ValueTask.FromResult(false)
            : failure(args);
        options.RateLimiter.DefaultRateLimiterOptions.PermitLimit = PermitLimit;

        var retry = options.Retry;
        retry.MaxRetryAttempts = MaxRetryAttempts;
        retry.BackoffType = DelayBackoffType.Exponential;
        retry.UseJitter = true;
        retry.Delay = FirstRetryDelay;
        retry.ShouldRetryAfterHeader = false;
        retry.DelayGenerator = static args => ValueTask.FromResult(RetryAfter(args.Outcome.Result));
        var transient = retry.ShouldHandle;
        retry.ShouldHandle = args => args.Outcome.Result?.StatusCode == HttpStatusCode.Unauthorized
            || Wave.Core.Security.OutboundAddressRefusedException.IsIn(args.Outcome.Exception)
            ? ValueTask.FromResult(false)
            : transient(args);
        retry.DisableForUnsafeHttpMethods();
    }

    /// <summary>The answer's Retry-After, capped; null lets the exponential back-off decide.</summary>
    private static TimeSpan? RetryAfter(HttpResponseMessage? response)
    {
        var header = response?.Headers.RetryAfter;
        var requested = header?.Delta ?? (header?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        if (requested is not { } delay)
        {
            return null;
        }
        return delay <= TimeSpan.Zero ? TimeSpan.Zero : delay < LongestRetryAfter ? delay : LongestRetryAfter;
    }
}
