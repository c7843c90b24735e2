using Microsoft.Extensions.Configuration;

using OpenTelemetry.Exporter;

using Wave.ServiceDefaults.Telemetry;

namespace Wave.Tests.ServiceDefaults;

public sealed class OtlpSettingsTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void No_endpoint_means_no_export() => Assert.Null(OtlpSettings.From(Config()));

    [Fact]
    public void Http_protobuf_is_the_default_and_each_signal_gets_its_path()
    {
        var settings = OtlpSettings.From(Config(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")))!;

        Assert.Equal(OtlpExportProtocol.HttpProtobuf, settings.Protocol);
        Assert.Equal(new Uri("http://collector:4318/v1/traces"), settings.SignalEndpoint("v1/traces"));
    }

    [Fact]
    public void A_base_path_is_kept()
    {
        var settings = OtlpSettings.From(Config(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/otlp/")))!;

        Assert.Equal(new Uri("http://collector:4318/otlp/v1/logs"), settings.SignalEndpoint("v1/logs"));
    }

    [Fact]
    public void Grpc_uses_the_endpoint_as_given()
    {
        var settings = OtlpSettings.From(Config(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4317"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")))!;

        Assert.Equal(OtlpExportProtocol.Grpc, settings.Protocol);
        Assert.Equal(new Uri("http://localhost:4317"), settings.SignalEndpoint("v1/traces"));
    }

    [Fact]
    public void An_unknown_protocol_is_refused() =>
        Assert.Throws<InvalidOperationException>(() => OtlpSettings.From(Config(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:1"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"))));
}
