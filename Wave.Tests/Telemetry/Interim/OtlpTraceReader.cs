// Interim: the OTLP decoding PullTelemetryTests used from the deleted look-alike dashboard, kept here only until the
// service-defaults change (which moves that test onto the real Aspire dashboard) is merged; then this folder goes.
namespace Wave.AppHost.Dashboard;

/// <summary>One span as the dashboard shows it.</summary>
/// <paramref name="Kind"/> is OTLP's SpanKind (1 internal, 2 server, 3 client, 4 producer, 5 consumer); attribute values are
/// given as text (strings as they are, numbers and booleans formatted invariantly).
public sealed record ReceivedSpan(string Service, string Name, string TraceId, string SpanId, string ParentSpanId, DateTimeOffset Start, TimeSpan Duration,
    int Kind = 0, IReadOnlyDictionary<string, string>? Attributes = null);

/// <summary>
/// Reads the few fields the dashboard shows from an OTLP/HTTP protobuf ExportTraceServiceRequest: the service name
/// (resource attribute service.name), and each span's ids, name, kind, timing and attributes. Unknown fields are skipped, as protobuf
/// readers must.
/// </summary>
public static class OtlpTraceReader
{
    public static IReadOnlyList<ReceivedSpan> Read(ReadOnlySpan<byte> request)
    {
        var spans = new List<ReceivedSpan>();
        var reader = new ProtoReader(request);
        while (reader.Next(out var field, out var wireType))
        {
            if (field == 1 && wireType == 2)
            {
                ReadResourceSpans(reader.Bytes(), spans);
            }
            else
            {
                reader.Skip(wireType);
            }
        }
        return spans;
    }

    private static void ReadResourceSpans(ReadOnlySpan<byte> message, List<ReceivedSpan> spans)
    {
        var service = "unknown";
        var scopeSpans = new List<byte[]>();
        var reader = new ProtoReader(message);
        while (reader.Next(out var field, out var wireType))
        {
            switch (field, wireType)
            {
                case (1, 2):
                    service = ServiceName(reader.Bytes()) ?? service;
                    break;
                case (2, 2):
                    scopeSpans.Add(reader.Bytes().ToArray());
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }
        foreach (var scope in scopeSpans)
        {
            var scopeReader = new ProtoReader(scope);
            while (scopeReader.Next(out var field, out var wireType))
            {
                if (field == 2 && wireType == 2)
                {
                    spans.Add(ReadSpan(service, scopeReader.Bytes()));
                }
                else
                {
                    scopeReader.Skip(wireType);
                }
            }
        }
    }

    internal static string? ServiceName(ReadOnlySpan<byte> resource)
    {
        var reader = new ProtoReader(resource);
        while (reader.Next(out var field, out var wireType))
        {
            if (field == 1 && wireType == 2)
            {
                var (key, value) = KeyValue(reader.Bytes());
                if (key == "service.name" && value is not null)
                {
                    return value;
                }
            }
            else
            {
                reader.Skip(wireType);
            }
        }
        return null;
    }

    internal static (string? Key, string? Value) KeyValue(ReadOnlySpan<byte> message)
    {
        string? key = null, value = null;
        var reader = new ProtoReader(message);
        while (reader.Next(out var field, out var wireType))
        {
            switch (field, wireType)
            {
                case (1, 2):
                    key = System.Text.Encoding.UTF8.GetString(reader.Bytes());
                    break;
                case (2, 2):
                    value = AnyValue(reader.Bytes());
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }
        return (key, value);
    }

    /// <summary>An AnyValue's string, bool, int or double as text; null for arrays, maps and bytes.</summary>
    private static string? AnyValue(ReadOnlySpan<byte> message)
    {
        string? value = null;
        var any = new ProtoReader(message);
        while (any.Next(out var field, out var wireType))
        {
            switch (field, wireType)
            {
                case (1, 2):
                    value = System.Text.Encoding.UTF8.GetString(any.Bytes());
                    break;
                case (2, 0):
                    value = any.Varint() != 0 ? "true" : "false";
                    break;
                case (3, 0):
                    value = ((long)any.Varint()).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case (4, 1):
                    value = BitConverter.UInt64BitsToDouble(any.Fixed64()).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    break;
                default:
                    any.Skip(wireType);
                    break;
            }
        }
        return value;
    }

    private static ReceivedSpan ReadSpan(string service, ReadOnlySpan<byte> message)
    {
        string traceId = "", spanId = "", parent = "", name = "";
        ulong start = 0, end = 0;
        var kind = 0;
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new ProtoReader(message);
        while (reader.Next(out var field, out var wireType))
        {
            switch (field, wireType)
            {
                case (1, 2):
                    traceId = Convert.ToHexStringLower(reader.Bytes());
                    break;
                case (2, 2):
                    spanId = Convert.ToHexStringLower(reader.Bytes());
                    break;
                case (4, 2):
                    parent = Convert.ToHexStringLower(reader.Bytes());
                    break;
                case (5, 2):
                    name = System.Text.Encoding.UTF8.GetString(reader.Bytes());
                    break;
                case (6, 0):
                    kind = (int)reader.Varint();
                    break;
                case (7, 1):
                    start = reader.Fixed64();
                    break;
                case (8, 1):
                    end = reader.Fixed64();
                    break;
                case (9, 2):
                    if (KeyValue(reader.Bytes()) is ({ } key, { } value))
                    {
                        attributes[key] = value;
                    }
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }
        var startTime = DateTimeOffset.UnixEpoch.AddTicks((long)(start / 100));
        return new ReceivedSpan(service, name, traceId, spanId, parent, startTime, TimeSpan.FromTicks((long)((end - Math.Min(start, end)) / 100)),
            kind, attributes);
    }
}
