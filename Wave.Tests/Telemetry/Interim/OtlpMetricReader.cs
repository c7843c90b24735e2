// Interim: the OTLP decoding PullTelemetryTests used from the deleted look-alike dashboard, kept here only until the
// service-defaults change (which moves that test onto the real Aspire dashboard) is merged; then this folder goes.
namespace Wave.AppHost.Dashboard;

/// <summary>One metric a service exported, by name and unit.</summary>
public sealed record ReceivedMetric(string Service, string Name, string Unit);

/// <summary>
/// Reads which metrics an OTLP/HTTP protobuf ExportMetricsServiceRequest carries (resource_metrics → scope_metrics →
/// metrics: name and unit), for a receiver that shows or checks what arrives, not the data points.
/// </summary>
public static class OtlpMetricReader
{
    public static IReadOnlyList<ReceivedMetric> Read(ReadOnlySpan<byte> request)
    {
        var metrics = new List<ReceivedMetric>();
        var reader = new ProtoReader(request);
        while (reader.Next(out var field, out var wireType))
        {
            if (field == 1 && wireType == 2)
            {
                ReadResourceMetrics(reader.Bytes(), metrics);
            }
            else
            {
                reader.Skip(wireType);
            }
        }
        return metrics;
    }

    private static void ReadResourceMetrics(ReadOnlySpan<byte> message, List<ReceivedMetric> metrics)
    {
        var service = "unknown";
        var scopes = new List<byte[]>();
        var reader = new ProtoReader(message);
        while (reader.Next(out var field, out var wireType))
        {
            switch (field, wireType)
            {
                case (1, 2):
                    service = OtlpTraceReader.ServiceName(reader.Bytes()) ?? service;
                    break;
                case (2, 2):
                    scopes.Add(reader.Bytes().ToArray());
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }
        foreach (var scope in scopes)
        {
            var scopeReader = new ProtoReader(scope);
            while (scopeReader.Next(out var field, out var wireType))
            {
                if (field == 2 && wireType == 2)
                {
                    metrics.Add(ReadMetric(service, scopeReader.Bytes()));
                }
                else
                {
                    scopeReader.Skip(wireType);
                }
            }
        }
    }

    private static ReceivedMetric ReadMetric(string service, ReadOnlySpan<byte> message)
    {
        string name = "", unit = "";
        var reader = new ProtoReader(message);
        while (reader.Next(out var field, out var wireType))
        {
            switch (field, wireType)
            {
                case (1, 2):
                    name = System.Text.Encoding.UTF8.GetString(reader.Bytes());
                    break;
                case (3, 2):
                    unit = System.Text.Encoding.UTF8.GetString(reader.Bytes());
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }
        return new ReceivedMetric(service, name, unit);
    }
}
