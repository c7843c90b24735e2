using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Wave.Core.Telemetry;

/// <summary>
/// The activity source and meter of Wave's own code, both named "Wave", which the service defaults export. Redis,
/// Postgres, RabbitMQ and HTTP spans come from their clients' own instrumentation.
/// Every span is started with <see cref="ActivitySource.StartActivity(string, ActivityKind)"/>, which returns null
/// when nothing listens; callers only compute tag values when they got an activity, and only build metric tags
/// when the instrument is <see cref="Instrument.Enabled"/>, so that a process without an exporter pays nothing.
/// </summary>
public static class WaveTelemetry
{
    public const string Name = "Wave";

    public static readonly ActivitySource ActivitySource = new(Name);

    public static readonly Meter Meter = new(Name);

    /// <summary>Span names.</summary>
    public static class Spans
    {
        public const string ServeManifest = "serve manifest";
        public const string ServeBlob = "serve blob";
        public const string ServeTags = "serve tags";
        public const string Augment = "augment";
        public const string ResolveUpstream = "resolve upstream";
        public const string Build = "build";

        /// <summary>"upstream GET manifest", "upstream HEAD blob", …: one per registry operation, across its auth, redirects and retries.</summary>
        public static string Upstream(string method, string operation) => $"upstream {method} {operation}";
    }

    /// <summary>Attribute names, Wave's under "wave." and OpenTelemetry's semantic conventions elsewhere.</summary>
    public static class Tags
    {
        public const string Token = "wave.token";
        public const string BuildId = "wave.build.id";

        /// <summary>
        /// A pull is a manifest GET through a token that answers an image manifest; its id is the W3C trace id of that
        /// request (what a client's traceparent set, or what Wave started), so the pull's spans and logs share it.
        /// </summary>
        public const string PullId = "wave.pull.id";

        public const string SourceImage = "wave.source.image";
        public const string Repository = "wave.registry.repository";

        /// <summary>"hit" when an upstream blob was served from the proxy's disk cache, "miss" when streamed from its registry.</summary>
        public const string BlobCache = "wave.blob.cache";
        public const string Reference = "wave.registry.reference";
        public const string Architecture = "wave.image.architecture";
        public const string MediaType = "wave.image.media_type";
        public const string BuildResult = "wave.build.result";
        public const string ServerAddress = "server.address";
        public const string HttpMethod = "http.request.method";
        public const string HttpStatus = "http.response.status_code";
        public const string ErrorType = "error.type";
    }

    /// <summary>Image manifests served as pulls, by architecture and media type.</summary>
    public static readonly Counter<long> Pulls = Meter.CreateCounter<long>("wave.pulls", "{pull}", "Image manifests served through a container token");

    public static readonly Counter<long> BuildsStarted = Meter.CreateCounter<long>("wave.builds.started", "{build}", "Builds a builder started running");

    /// <summary>Tagged <see cref="Tags.BuildResult"/> = succeeded | failed.</summary>
    public static readonly Counter<long> BuildsCompleted = Meter.CreateCounter<long>("wave.builds.completed", "{build}", "Builds that reached a terminal state");

    public static readonly Histogram<double> BuildDuration = Meter.CreateHistogram<double>("wave.build.duration", "s", "How long a build ran");

    public static readonly Histogram<double> AugmentationDuration = Meter.CreateHistogram<double>("wave.augmentation.duration", "ms",
        "Computing what a token serves: upstream manifests and configs fetched, layers and config applied");

    /// <summary>Tagged with the registry host and the final status code (or the error type when there was no answer).</summary>
    public static readonly Histogram<double> UpstreamDuration = Meter.CreateHistogram<double>("wave.upstream.duration", "ms",
        "One registry operation against an upstream registry, auth, redirects and retries included");

    public static void RecordPull(string? architecture, string mediaType)
    {
        if (Pulls.Enabled)
        {
            Pulls.Add(1, new KeyValuePair<string, object?>(Tags.Architecture, architecture ?? "unknown"), new KeyValuePair<string, object?>(Tags.MediaType, mediaType));
        }
    }

    public static void RecordBuildStarted()
    {
        if (BuildsStarted.Enabled)
        {
            BuildsStarted.Add(1);
        }
    }

    public static void RecordBuildCompleted(bool succeeded, TimeSpan duration)
    {
        var result = new KeyValuePair<string, object?>(Tags.BuildResult, succeeded ? "succeeded" : "failed");
        if (BuildsCompleted.Enabled)
        {
            BuildsCompleted.Add(1, result);
        }
        if (BuildDuration.Enabled)
        {
            BuildDuration.Record(duration.TotalSeconds, result);
        }
    }

    public static void RecordAugmentation(TimeSpan elapsed, bool succeeded)
    {
        if (AugmentationDuration.Enabled)
        {
            if (succeeded)
            {
                AugmentationDuration.Record(elapsed.TotalMilliseconds);
            }
            else
            {
                AugmentationDuration.Record(elapsed.TotalMilliseconds, new KeyValuePair<string, object?>(Tags.ErrorType, "failed"));
            }
        }
    }

    /// <summary>One registry operation: <paramref name="status"/> is the final HTTP status, or null with <paramref name="errorType"/> when none came.</summary>
    public static void RecordUpstream(string registry, int? status, string? errorType, TimeSpan elapsed)
    {
        if (UpstreamDuration.Enabled)
        {
            var host = new KeyValuePair<string, object?>(Tags.ServerAddress, registry);
            UpstreamDuration.Record(elapsed.TotalMilliseconds, host, status is { } code
                ? new KeyValuePair<string, object?>(Tags.HttpStatus, code)
                : new KeyValuePair<string, object?>(Tags.ErrorType, errorType ?? "unknown"));
        }
    }

    /// <summary>Marks a span failed with the exception's type (no message: messages can carry names users chose).</summary>
    public static void Fail(Activity? activity, Exception exception)
    {
        if (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
            activity.SetTag(Tags.ErrorType, exception.GetType().FullName);
        }
    }
}
