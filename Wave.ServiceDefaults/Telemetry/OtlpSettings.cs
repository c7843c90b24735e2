using Microsoft.Extensions.Configuration;

using OpenTelemetry.Exporter;

namespace Wave.ServiceDefaults.Telemetry;

/// <summary>
/// Where telemetry goes, read from the standard OTEL_* variables (Aspire sets them for every project it runs).
/// Read from configuration rather than the process environment so that a host (or a test) can set them per app.
/// </summary>
public sealed record OtlpSettings(Uri Endpoint, OtlpExportProtocol Protocol, string? Headers)
{
    public const string EndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string ProtocolKey = "OTEL_EXPORTER_OTLP_PROTOCOL";
    public const string HeadersKey = "OTEL_EXPORTER_OTLP_HEADERS";

    /// <summary>The settings, or null when no endpoint is configured (telemetry then stays in the process).</summary>
    public static OtlpSettings? From(IConfiguration configuration)
    {
        var endpoint = configuration[EndpointKey];
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            return null;
        }
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri))
        {
            throw new InvalidOperationException($"{EndpointKey} is not an absolute URL: '{endpoint}'");
        }
        var protocol = configuration[ProtocolKey]?.Trim().ToLowerInvariant() switch
        {
            null or "" or "http/protobuf" => OtlpExportProtocol.HttpProtobuf,
            "grpc" => OtlpExportProtocol.Grpc,
            var other => throw new InvalidOperationException($"{ProtocolKey} '{other}' is not supported: use grpc or http/protobuf"),
        };
        var headers = configuration[HeadersKey];
        return new OtlpSettings(uri, protocol, string.IsNullOrWhiteSpace(headers) ? null : headers);
    }

    /// <summary>
    /// The endpoint of one signal. Over HTTP the variable names the base and each signal has its own path
    /// ("v1/traces"); an endpoint set in code is used as given, so the path is added here. gRPC uses the base.
    /// </summary>
    public Uri SignalEndpoint(string signalPath)
    {
        if (Protocol == OtlpExportProtocol.Grpc)
        {
            return Endpoint;
        }
        var basePath = Endpoint.AbsolutePath.EndsWith('/') ? Endpoint.AbsolutePath : Endpoint.AbsolutePath + "/";
        return new UriBuilder(Endpoint) { Path = basePath + signalPath }.Uri;
    }

    public void Apply(OtlpExporterOptions options, string signalPath)
    {
        options.Endpoint = SignalEndpoint(signalPath);
        options.Protocol = Protocol;
        if (Headers is not null)
        {
            options.Headers = Headers;
        }
    }
}
