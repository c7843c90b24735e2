using System.Diagnostics;

using Wave.Core.Telemetry;

namespace Wave.Core.Registry;

public sealed partial class RegistryClient
{
    /// <summary>
    /// One registry operation as a client span ("upstream GET manifest") over its auth round trips, redirects and
    /// retries (each of which HttpClient traces itself), and its latency in <see cref="WaveTelemetry.UpstreamDuration"/>.
    /// </summary>
    private async Task<HttpResponseMessage> ObservedAsync(RegistryRequest request, bool followForeignRedirects, CancellationToken cancellationToken)
    {
        var activity = WaveTelemetry.ActivitySource.HasListeners()
            ? WaveTelemetry.ActivitySource.StartActivity(WaveTelemetry.Spans.Upstream(request.Method.Method, Operation(request.Uri)), ActivityKind.Client)
            : null;
        if (activity is not null)
        {
            activity.SetTag(WaveTelemetry.Tags.ServerAddress, request.Registry);
            activity.SetTag(WaveTelemetry.Tags.Repository, request.Repository);
            activity.SetTag(WaveTelemetry.Tags.HttpMethod, request.Method.Method);
        }
        var timed = activity is not null || WaveTelemetry.UpstreamDuration.Enabled;
        var started = timed ? _time.GetTimestamp() : 0;
        try
        {
            var response = followForeignRedirects
                ? await FollowRedirectsAsync(request, cancellationToken)
                : await SameHostRedirectsAsync(request, cancellationToken);
            if (timed)
            {
                var status = (int)response.StatusCode;
                activity?.SetTag(WaveTelemetry.Tags.HttpStatus, status);
                if (status >= 400)
                {
                    activity?.SetStatus(ActivityStatusCode.Error);
                }
                WaveTelemetry.RecordUpstream(request.Registry, status, null, _time.GetElapsedTime(started));
            }
            return response;
        }
        catch (Exception e) when (timed)
        {
            var status = (e as RegistryException)?.StatusCode;
            var errorType = e is RegistryException registryError ? registryError.Kind.ToString() : e.GetType().Name;
            if (activity is not null)
            {
                WaveTelemetry.Fail(activity, e);
                activity.SetTag(WaveTelemetry.Tags.HttpStatus, status);
                activity.SetTag(WaveTelemetry.Tags.ErrorType, errorType);
            }
            WaveTelemetry.RecordUpstream(request.Registry, status, errorType, _time.GetElapsedTime(started));
            throw;
        }
        finally
        {
            activity?.Dispose();
        }
    }

    /// <summary>What a distribution API path addresses: manifest, blob, upload, ping (/v2/), or request.</summary>
    internal static string Operation(Uri uri)
    {
        var path = uri.AbsolutePath;
        return path.Contains("/manifests/", StringComparison.Ordinal) ? "manifest"
            : path.Contains("/blobs/uploads", StringComparison.Ordinal) ? "upload"
            : path.Contains("/blobs/", StringComparison.Ordinal) ? "blob"
            : path.EndsWith("/v2/", StringComparison.Ordinal) ? "ping"
            : "request";
    }
}
