using Microsoft.Extensions.Options;

using Wave.Core.Identity;
using Wave.Core.State;

namespace Wave.Core.RateLimits;

public enum RateLimitedAction
{
    Build,
    Pull,
}

public sealed class RateLimitRule
{
    public int Limit { get; set; }
    public TimeSpan Window { get; set; }
}

/// <summary><c>Wave:RateLimits</c>; the defaults are those of the Wave API reference.</summary>
public sealed class RateLimitOptions
{
    public bool Enabled { get; set; } = true;
    public RateLimitRule AuthenticatedBuilds { get; set; } = new() { Limit = 100, Window = TimeSpan.FromHours(1) };
    public RateLimitRule AuthenticatedPulls { get; set; } = new() { Limit = 1000, Window = TimeSpan.FromMinutes(1) };
    public RateLimitRule AnonymousBuilds { get; set; } = new() { Limit = 25, Window = TimeSpan.FromDays(1) };
    public RateLimitRule AnonymousPulls { get; set; } = new() { Limit = 250, Window = TimeSpan.FromHours(1) };
}

/// <summary>Whether an action may go ahead; when not, how long until it may, and which limit said no to whom.</summary>
public sealed record RateLimitDecision(bool Allowed, TimeSpan RetryAfter, string Message);

/// <summary>
/// Fixed-window counters per user (or client IP when anonymous) in the shared store, so that a limit reached through
/// one instance holds on every other.
/// </summary>
public sealed class RateLimiter(IKeyValueStore store, IOptions<RateLimitOptions> options, TimeProvider time)
{
    public async Task<RateLimitDecision> AcquireAsync(RateLimitedAction action, WaveUser? user, string? clientIp, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (!settings.Enabled)
        {
            return new RateLimitDecision(true, TimeSpan.Zero, "");
        }
        var rule = (action, user is null) switch
        {
            (RateLimitedAction.Build, false) => settings.AuthenticatedBuilds,
            (RateLimitedAction.Build, true) => settings.AnonymousBuilds,
            (RateLimitedAction.Pull, false) => settings.AuthenticatedPulls,
            _ => settings.AnonymousPulls,
        };
        var subject = user is not null ? $"user {user.UserName}" : $"anonymous client {clientIp ?? "unknown"}";
        var key = user is not null ? $"user:{user.Id}" : $"ip:{clientIp ?? "unknown"}";
        var now = time.GetUtcNow();
        var windowTicks = Math.Max(rule.Window.Ticks, TimeSpan.TicksPerSecond);
        var windowStart = now.UtcTicks / windowTicks * windowTicks;
        var windowEnd = new DateTimeOffset(windowStart + windowTicks, TimeSpan.Zero);
        var count = await store.IncrementAsync($"ratelimit:{action}:{key}:{windowStart}", 1, windowEnd - now + TimeSpan.FromSeconds(5), cancellationToken);
        if (count <= rule.Limit)
        {
            return new RateLimitDecision(true, TimeSpan.Zero, "");
        }
        var what = action == RateLimitedAction.Build ? "container builds" : "container pulls";
        var retryAfter = windowEnd - now;
        return new RateLimitDecision(false, retryAfter,
            $"rate limit exceeded: {rule.Limit} {what} per {Describe(rule.Window)} for {subject}; retry in {Math.Ceiling(retryAfter.TotalSeconds)} s");
    }

    private static string Describe(TimeSpan window) => window switch
    {
        { TotalDays: 1 } => "day",
        { TotalHours: 1 } => "hour",
        { TotalMinutes: 1 } => "minute",
        _ => window.ToString(),
    };
}
