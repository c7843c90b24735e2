using System.Diagnostics;

using Wave.Core.Requests;
using Wave.Core.Telemetry;
using Wave.RegistryProxy.Routing;

namespace Wave.RegistryProxy.Telemetry;

/// <summary>The proxy's spans and pull counts; every method is free when nothing listens.</summary>
public static class ProxyTelemetry
{
    /// <summary>"serve manifest" / "serve blob" / "serve tags" under the request's server span, tagged with the token.</summary>
    public static Activity? StartServing(RegistryPath route)
    {
        var activity = WaveTelemetry.ActivitySource.StartActivity(route.Kind switch
        {
            RegistryPathKind.Manifest => WaveTelemetry.Spans.ServeManifest,
            RegistryPathKind.Blob => WaveTelemetry.Spans.ServeBlob,
            _ => WaveTelemetry.Spans.ServeTags,
        });
        if (activity is not null)
        {
            activity.SetTag(WaveTelemetry.Tags.Token, route.Token);
            activity.SetTag(WaveTelemetry.Tags.Repository, route.Name);
            activity.SetTag(WaveTelemetry.Tags.Reference, route.Reference);
        }
        return activity;
    }

    /// <summary>Once the token's request is known: its build, when the image is (or was) built by Wave.</summary>
    public static void Describe(Activity? activity, ContainerRequest request)
    {
        if (activity is not null && request.BuildId is { } buildId)
        {
            activity.SetTag(WaveTelemetry.Tags.BuildId, buildId);
        }
    }

    /// <summary>A manifest GET that is a pull: counted, and its span given the pull id (the request's trace id).</summary>
    public static void Pulled(string? architecture, string mediaType)
    {
        if (Activity.Current is { } activity && activity.Source == WaveTelemetry.ActivitySource)
        {
            activity.SetTag(WaveTelemetry.Tags.PullId, activity.TraceId.ToHexString());
        }
        WaveTelemetry.RecordPull(architecture, mediaType);
    }

    /// <summary>An upstream blob served from the proxy's disk cache, or streamed from its registry.</summary>
    public static void BlobCacheHit(bool hit)
    {
        if (Activity.Current is { } activity && activity.Source == WaveTelemetry.ActivitySource)
        {
            activity.SetTag(WaveTelemetry.Tags.BlobCache, hit ? "hit" : "miss");
        }
    }
}
