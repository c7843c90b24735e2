using System.Globalization;
using System.Text;

using Wave.Core.Augmentation;

namespace Wave.Core.Builds.Templates;

/// <summary>
/// The Dockerfile that freezes an image with a <c>containerConfig</c>: <c>FROM</c> the image, one <c>ADD</c> per layer
/// (a local tar.gz, which ADD unpacks at <c>/</c>), then <c>WORKDIR</c>, <c>ENV</c>, <c>ENTRYPOINT</c>, <c>CMD</c>.
/// Values are written so that Dockerfile parsing gives them back unchanged: exec (JSON) form for ENTRYPOINT and CMD,
/// double-quoted ENV values and a WORKDIR with <c>\</c>, <c>$</c> (and in ENV <c>"</c>) escaped.
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
            text.Append("WORKDIR ").Append(EscapeWord(workingDir)).Append('\n');
        }
        foreach (var entry in config.Env ?? [])
        {
            var equals = entry.IndexOf('=');
            text.Append("ENV ").Append(entry[..equals]).Append("=\"").Append(EscapeWord(entry[(equals + 1)..]).Replace("\"", "\\\"", StringComparison.Ordinal)).Append("\"\n");
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

    /// <summary>A JSON array of strings, escaping only what JSON requires, so that the Dockerfile stays readable.</summary>
    private static string ExecForm(IReadOnlyList<string> arguments)
    {
        var text = new StringBuilder("[");
        for (var i = 0; i < arguments.Count; i++)
        {
            text.Append(i == 0 ? "\"" : ",\"");
            foreach (var c in arguments[i])
            {
                text.Append(c switch
                {
                    '"' => "\\\"",
                    '\\' => "\\\\",
                    '\n' => "\\n",
                    '\r' => "\\r",
                    '\t' => "\\t",
                    _ when char.IsControl(c) => string.Create(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
                    _ => c.ToString(),
                });
            }
            text.Append('"');
        }
        return text.Append(']').ToString();
    }

    // Dockerfile word processing (WORKDIR, ENV) reads '\' as an escape and expands '$': escape both to keep values literal.
    private static string EscapeWord(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("$", "\\$", StringComparison.Ordinal);
}
