using System.Globalization;
using System.Text.Json.Serialization;

using Microsoft.Extensions.Options;

using Wave.Api.Security;
using Wave.Core.Metrics;
using Wave.Core.Names;

namespace Wave.Api.Apis;

/// <summary>The usage metrics API of the Wave API reference: builds, pulls, Fusion pulls and mirrors by day and organisation (v1alpha3: and architecture).</summary>
public static class MetricsApi
{
    public sealed record MetricsResponse(
        [property: JsonPropertyName("metric")] string Metric,
        [property: JsonPropertyName("count")] long Count,
        [property: JsonPropertyName("orgs")] IReadOnlyDictionary<string, long> Orgs);

    public sealed record CountResponse([property: JsonPropertyName("count")] long Count);

    public static IEndpointRouteBuilder MapMetricsApi(this IEndpointRouteBuilder app)
    {
        foreach (var version in new[] { "v1alpha2", "v1alpha3" })
        {
            var withArch = version == "v1alpha3";
            app.MapGet($"/{version}/metrics/builds", (HttpContext c, UsageMetrics m, IOptions<MetricsOptions> o) => Query(c, m, o.Value, UsageMetric.Builds, withArch));
            app.MapGet($"/{version}/metrics/pulls", (HttpContext c, UsageMetrics m, IOptions<MetricsOptions> o) => Query(c, m, o.Value, UsageMetric.Pulls, withArch));
            app.MapGet($"/{version}/metrics/fusion/pulls", (HttpContext c, UsageMetrics m, IOptions<MetricsOptions> o) => Query(c, m, o.Value, UsageMetric.Fusion, withArch));
            app.MapGet($"/{version}/metrics/mirrors", (HttpContext c, UsageMetrics m, IOptions<MetricsOptions> o) => Query(c, m, o.Value, UsageMetric.Mirrors, withArch));
        }
        return app;
    }

    private static async Task<IResult> Query(HttpContext context, UsageMetrics metrics, MetricsOptions options, UsageMetric metric, bool withArch)
    {
        if (!IsAuthorized(context.Request.Headers.Authorization.ToString(), options))
        {
            return BasicAccounts.Challenge(context, "Wave metrics", "the metrics API needs HTTP Basic credentials of a configured metrics account (Wave:Metrics:Accounts)");
        }
        var query = context.Request.Query;
        DateOnly? date = null;
        if (query.TryGetValue("date", out var dateText) && !string.IsNullOrEmpty(dateText))
        {
            if (!DateOnly.TryParseExact(dateText.ToString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
            {
                return ContainerApi.Error(StatusCodes.Status400BadRequest, $"date '{dateText}' is not a date of the form yyyy-MM-dd", "date");
            }
            date = parsed;
        }
        var org = query.TryGetValue("org", out var orgText) && !string.IsNullOrEmpty(orgText) ? orgText.ToString().ToLowerInvariant() : null;
        string? arch = null;
        if (withArch && query.TryGetValue("arch", out var archText) && !string.IsNullOrEmpty(archText))
        {
            if (!ContainerPlatform.TryParse(archText.ToString(), out var platform, out var error))
            {
                return ContainerApi.Error(StatusCodes.Status400BadRequest, $"arch '{archText}' is not supported: {error}", "arch");
            }
            arch = platform.Architecture;
        }
        var counts = await metrics.QueryAsync(metric, date, org, arch, context.RequestAborted);
        var total = counts.Values.Sum();
        return date is not null && org is not null
            ? TypedResults.Ok(new CountResponse(total))
            : TypedResults.Ok(new MetricsResponse(UsageMetrics.Name(metric), total, counts));
    }

    private static bool IsAuthorized(string authorization, MetricsOptions options) => BasicAccounts.Authenticate(authorization, options.Accounts) is not null;
}
