using System.Collections.Concurrent;

using Google.Protobuf;

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Wave.Tests.Infrastructure.Telemetry;

/// <summary>One data point of a metric a service exported: a sum's value, or a histogram's count and sum.</summary>
public sealed record ReceivedMetric(string Service, string Name, double Value, long Count, IReadOnlyDictionary<string, string> Attributes);

/// <summary>
/// An OTLP/HTTP metrics endpoint (<c>POST /v1/metrics</c>, <c>application/x-protobuf</c>) that decodes what the
/// services' exporters send, ExportMetricsServiceRequest as the OTLP specification numbers its fields, with
/// Google.Protobuf's wire reader. The Aspire dashboard receives metrics too but its API serves only traces and logs,
/// so metrics are read here. Unknown fields are skipped, as any protobuf reader does.
/// </summary>
public sealed class OtlpMetricsReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedMetric> _metrics = new();

    private OtlpMetricsReceiver(WebApplication app) => _app = app;

    /// <summary>The full endpoint to give OTEL_EXPORTER_OTLP_METRICS_ENDPOINT.</summary>
    public Uri MetricsEndpoint { get; private set; } = null!;

    public IReadOnlyCollection<ReceivedMetric> Metrics => _metrics;

    public static async Task<OtlpMetricsReceiver> StartAsync()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.Services.AddRoutingCore();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        var receiver = new OtlpMetricsReceiver(app);
        app.MapPost("/v1/metrics", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, request.HttpContext.RequestAborted);
            foreach (var metric in Decode(body.ToArray()))
            {
                receiver._metrics.Enqueue(metric);
            }
            return Results.Bytes([], "application/x-protobuf");
        });
        app.Urls.Add("http://127.0.0.1:0");
        await app.StartAsync();
        receiver.MetricsEndpoint = new Uri(new Uri(app.Urls.Single()), "v1/metrics");
        return receiver;
    }

    /// <summary>Data points of <paramref name="name"/> from <paramref name="service"/>, once one matching <paramref name="match"/> arrived.</summary>
    public async Task<ReceivedMetric> WaitForAsync(string service, string name, Func<ReceivedMetric, bool>? match, Func<string> diagnostics,
        CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var found = _metrics.FirstOrDefault(m => m.Service == service && m.Name == name && (match?.Invoke(m) ?? true));
            if (found is not null)
            {
                return found;
            }
            Assert.True(DateTime.UtcNow < deadline,
                $"metric {name} of {service} did not arrive; got [{string.Join(", ", _metrics.Where(m => m.Service == service).Select(m => m.Name).Distinct())}]\n{diagnostics()}");
            await Task.Delay(100, cancellationToken);
        }
    }

    // Field numbers of opentelemetry/proto/collector/metrics/v1 and opentelemetry/proto/metrics/v1.
    private static IEnumerable<ReceivedMetric> Decode(byte[] request)
    {
        var metrics = new List<ReceivedMetric>();
        foreach (var resourceMetrics in Fields(request, 1))
        {
            var service = "";
            var scopes = new List<ByteString>();
            ForEach(resourceMetrics, (field, input) =>
            {
                switch (field)
                {
                    case 1: service = KeyValues(input.ReadBytes(), 1).GetValueOrDefault("service.name") ?? ""; return true; // Resource.attributes
                    case 2: scopes.Add(input.ReadBytes()); return true; // ScopeMetrics
                    default: return false;
                }
            });
            foreach (var scope in scopes)
            {
                foreach (var metric in Fields(scope.ToByteArray(), 2))
                {
                    metrics.AddRange(DecodeMetric(service, metric));
                }
            }
        }
        return metrics;
    }

    private static IEnumerable<ReceivedMetric> DecodeMetric(string service, ByteString metric)
    {
        var name = "";
        var points = new List<ReceivedMetric>();
        var data = new List<(int Kind, ByteString Bytes)>();
        ForEach(metric, (field, input) =>
        {
            switch (field)
            {
                case 1: name = input.ReadString(); return true;
                case 5 or 7 or 9: data.Add((field, input.ReadBytes())); return true; // gauge, sum, histogram
                default: return false;
            }
        });
        foreach (var (kind, bytes) in data)
        {
            foreach (var point in Fields(bytes.ToByteArray(), 1))
            {
                double value = 0;
                long count = 0;
                var attributes = new Dictionary<string, string>();
                ForEach(point, (field, input) =>
                {
                    if (kind == 9)
                    {
                        switch (field)
                        {
                            case 4: count = (long)input.ReadFixed64(); return true;
                            case 5: value = input.ReadDouble(); return true;
                            case 9: Add(attributes, input.ReadBytes()); return true;
                            default: return false;
                        }
                    }
                    switch (field)
                    {
                        case 4: value = input.ReadDouble(); count = 1; return true;
                        case 6: value = input.ReadSFixed64(); count = 1; return true;
                        case 7: Add(attributes, input.ReadBytes()); return true;
                        default: return false;
                    }
                });
                points.Add(new ReceivedMetric(service, name, value, count, attributes));
            }
        }
        return points;
    }

    /// <summary>Each occurrence of a length-delimited field.</summary>
    private static List<ByteString> Fields(byte[] message, int number)
    {
        var found = new List<ByteString>();
        ForEach(ByteString.CopyFrom(message), (field, input) =>
        {
            if (field != number)
            {
                return false;
            }
            found.Add(input.ReadBytes());
            return true;
        });
        return found;
    }

    /// <summary>Calls <paramref name="read"/> for each field; a field it does not read (false) is skipped.</summary>
    private static void ForEach(ByteString message, Func<int, CodedInputStream, bool> read)
    {
        var input = new CodedInputStream(message.ToByteArray());
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (!read(WireFormat.GetTagFieldNumber(tag), input))
            {
                input.SkipLastField();
            }
        }
    }

    private static Dictionary<string, string> KeyValues(ByteString owner, int number)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var keyValue in Fields(owner.ToByteArray(), number))
        {
            Add(values, keyValue);
        }
        return values;
    }

    /// <summary>A KeyValue (key = 1, value = 2: AnyValue with string_value = 1, bool_value = 2, int_value = 3, double_value = 4).</summary>
    private static void Add(Dictionary<string, string> into, ByteString keyValue)
    {
        var key = "";
        var value = "";
        ForEach(keyValue, (field, input) =>
        {
            switch (field)
            {
                case 1: key = input.ReadString(); return true;
                case 2:
                    ForEach(input.ReadBytes(), (anyField, any) =>
                    {
                        switch (anyField)
                        {
                            case 1: value = any.ReadString(); return true;
                            case 2: value = any.ReadBool() ? "true" : "false"; return true;
                            case 3: value = any.ReadInt64().ToString(System.Globalization.CultureInfo.InvariantCulture); return true;
                            case 4: value = any.ReadDouble().ToString(System.Globalization.CultureInfo.InvariantCulture); return true;
                            default: return false;
                        }
                    });
                    return true;
                default: return false;
            }
        });
        into[key] = value;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
