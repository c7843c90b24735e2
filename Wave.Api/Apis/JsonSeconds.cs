using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Wave.Api.Apis;

/// <summary>
/// A duration as the Wave server writes one: a JSON number of seconds with nanosecond digits (<c>123.914989000</c>).
/// nf-wave reads it as a double, wave-cli as seconds with a fraction.
/// </summary>
public sealed class JsonSeconds : JsonConverter<TimeSpan?>
{
    public override TimeSpan? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? null
        : reader.TokenType == JsonTokenType.String
            ? TimeSpan.FromSeconds(double.Parse(reader.GetString()!, CultureInfo.InvariantCulture))
            : TimeSpan.FromSeconds(reader.GetDouble());

    public override void Write(Utf8JsonWriter writer, TimeSpan? value, JsonSerializerOptions options)
    {
        if (value is { } duration)
        {
            writer.WriteRawValue(Format(duration), skipInputValidation: true);
        }
        else
        {
            writer.WriteNullValue();
        }
    }

    public static string Format(TimeSpan value) => (value.Ticks / (decimal)TimeSpan.TicksPerSecond).ToString("0.000000000", CultureInfo.InvariantCulture);
}
