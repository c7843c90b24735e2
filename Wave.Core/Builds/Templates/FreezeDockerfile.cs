using System.Globalization;
using System.Text;
using System.Text.Json;

using Wave.Core.Augmentation;

namespace Wave.Core.Builds.Templates;

/// <summary>
/// The Dockerfile that freezes an image with a <c>containerConfig</c>: <c>FROM</c> the image, one <c>ADD</c> per layer
/// (a local tar.gz, which ADD unpacks at <c>/</c>), then <c>WORKDIR</c>, <c>ENV</c>, <c>ENTRYPOINT</c>, <c>CMD</c>.
/// Values are written so that Dockerfile parsing gives them back unchanged: exec (JSON) form for ENTRYPOINT and CMD,
/// double-quoted ENV values with <c>\</c>, <c>"</c> and <c>$</c> escaped.
/// </summary>
public static class FreezeDockerfile
{
    public static string LayerFileName(int index) => string.Create(CultureInfo.InvariantCulture, $"layer-{index}.tar.gz");

    /// <summary>The instructions that apply <paramref name="config"/>; layers are named <see cref="LayerFileName"/> in order.</summary>
    public static string ConfigInstructions(ContainerConfig? config)
    {
        var text = new StringBuilder();
        if (config is null)
        {
            return "";
        }
        for (var i = 0; i < (config.Layers?.Count ?? 0); i++)
        {
            text.Append("ADD ").Append(LayerFileName(i)).Append(" /\n");
        }
        if (config.WorkingDir is { Length: > 0 } workingDir)
        {
            text.Append("WORKDIR ").Append(workingDir).Append('\n');
        }
        foreach (var entry in config.Env ?? [])
        {
            var equals = entry.IndexOf('=');
            text.Append("ENV ").Append(entry[..equals]).Append("=\"").Append(EscapeEnvValue(entry[(equals + 1)..])).Append("\"\n");
        }
        if (config.Entrypoint is not null)
        {
            text.Append("ENTRYPOINT ").Append(ExecForm(config.Entrypoint)).Append('\n');
        }
        if (config.Cmd is not null)
        {
            text.Append("CMD ").Append(ExecForm(config.Cmd)).Append('\n');
        }
        return text.ToString();
    }

    public static string Render(string image, ContainerConfig? config) => $"FROM {image}\n" + ConfigInstructions(config);

    private static string ExecForm(IReadOnlyList<string> arguments) => JsonSerializer.Serialize(arguments, ExecFormJson.Default.IReadOnlyListString);

    private static string EscapeEnvValue(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal)
            .Replace("\"", "\\\"", StringComparison.Ordinal)
            .Replace("$", "\\$", StringComparison.Ordinal);
}

[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyList<string>))]
internal sealed partial class ExecFormJson : System.Text.Json.Serialization.JsonSerializerContext;
