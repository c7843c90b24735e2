namespace Wave.AppHost.Dashboard;

/// <summary>One span as the dashboard shows it.</summary>
public sealed record ReceivedSpan(string Service, string Name, string TraceId, string SpanId, string ParentSpanId, DateTimeOffset Start, TimeSpan Duration);

/// <summary>
/// Reads the few fields the dashboard shows from an OTLP/HTTP protobuf ExportTraceServiceRequest: the service name
/// (resource attribute service.name), and each span's ids, name and timing. Unknown fields are skipped, as protobuf
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

    private static string? ServiceName(ReadOnlySpan<byte> resource)
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

    private static (string? Key, string? Value) KeyValue(ReadOnlySpan<byte> message)
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
                    var any = new ProtoReader(reader.Bytes());
                    while (any.Next(out var anyField, out var anyWire))
                    {
                        if (anyField == 1 && anyWire == 2)
                        {
                            value = System.Text.Encoding.UTF8.GetString(any.Bytes());
                        }
                        else
                        {
                            any.Skip(anyWire);
                        }
                    }
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }
        return (key, value);
    }

    private static ReceivedSpan ReadSpan(string service, ReadOnlySpan<byte> message)
    {
        string traceId = "", spanId = "", parent = "", name = "";
        ulong start = 0, end = 0;
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
                case (7, 1):
                    start = reader.Fixed64();
                    break;
                case (8, 1):
                    end = reader.Fixed64();
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }
        var startTime = DateTimeOffset.UnixEpoch.AddTicks((long)(start / 100));
        return new ReceivedSpan(service, name, traceId, spanId, parent, startTime, TimeSpan.FromTicks((long)((end - Math.Min(start, end)) / 100)));
    }

    /// <summary>The protobuf wire format: tags, varints, fixed 64-bit values and length-delimited bytes.</summary>
    private ref struct ProtoReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _position;

        public bool Next(out int field, out int wireType)
        {
            if (_position >= _data.Length)
            {
                field = wireType = 0;
                return false;
            }
            var tag = Varint();
            field = (int)(tag >> 3);
            wireType = (int)(tag & 7);
            return true;
        }

        public ulong Varint()
        {
            ulong result = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = _data[_position++];
                result |= (ulong)(b & 0x7f) << shift;
                if ((b & 0x80) == 0)
                {
                    return result;
                }
            }
            throw new FormatException("a protobuf varint is longer than 10 bytes");
        }

        public ulong Fixed64()
        {
            var value = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(_data.Slice(_position, 8));
            _position += 8;
            return value;
        }

        public ReadOnlySpan<byte> Bytes()
        {
            var length = checked((int)Varint());
            var bytes = _data.Slice(_position, length);
            _position += length;
            return bytes;
        }

        public void Skip(int wireType)
        {
            switch (wireType)
            {
                case 0:
                    Varint();
                    break;
                case 1:
                    _position += 8;
                    break;
                case 2:
                    Bytes();
                    break;
                case 5:
                    _position += 4;
                    break;
                default:
                    throw new FormatException($"protobuf wire type {wireType} is not supported");
            }
        }
    }
}
