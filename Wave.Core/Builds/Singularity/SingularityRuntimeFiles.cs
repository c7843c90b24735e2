using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

using Wave.Core.Builds.Templates;

namespace Wave.Core.Builds.Singularity;

/// <summary>
/// The files Singularity reads from <c>/.singularity.d/</c> inside an image's root filesystem: the environment
/// scripts sourced at start (<c>env/10-docker2singularity.sh</c> from the image config, <c>env/90-environment.sh</c>
/// from <c>%environment</c>), the <c>runscript</c> that <c>singularity run</c> executes, and <c>labels.json</c>.
/// </summary>
public static class SingularityRuntimeFiles
{
    public const string Directory = ".singularity.d";
    public const string DockerEnvironmentPath = ".singularity.d/env/10-docker2singularity.sh";
    public const string EnvironmentPath = ".singularity.d/env/90-environment.sh";
    public const string RunscriptPath = ".singularity.d/runscript";
    public const string LabelsPath = ".singularity.d/labels.json";

    /// <summary><c>90-environment.sh</c>: the <c>%environment</c> code (none: only the header).</summary>
    public static string EnvironmentScript(string? environment) =>
        "#!/bin/sh\n# Custom environment shell code should follow\n" + (environment is null ? "" : "\n" + environment + "\n");

    /// <summary>The runscript for a <c>%runscript</c> body.</summary>
    public static string Runscript(string body) => "#!/bin/sh\n\n" + body + "\n";

    /// <summary>
    /// The runscript of an image without <c>%runscript</c>: run the image's entrypoint with the arguments given, or
    /// with its cmd when none are given, as <c>docker run</c> would; a shell when the image names nothing to run.
    /// </summary>
    public static string DefaultRunscript(IReadOnlyList<string>? entrypoint, IReadOnlyList<string>? cmd)
    {
        var entry = string.Join(' ', (entrypoint ?? []).Select(ShellWord.Quote));
        var command = string.Join(' ', (cmd ?? []).Select(ShellWord.Quote));
        var text = new StringBuilder("#!/bin/sh\n");
        text.Append("if [ $# -gt 0 ]; then\n");
        text.Append("    exec ").Append(entry.Length > 0 ? entry + " " : "").Append("\"$@\"\n");
        text.Append("fi\n");
        var whole = string.Join(' ', new[] { entry, command }.Where(p => p.Length > 0));
        text.Append("exec ").Append(whole.Length > 0 ? whole : "/bin/sh").Append('\n');
        return text.ToString();
    }

    /// <summary><c>10-docker2singularity.sh</c>: one <c>export</c> per <c>NAME=value</c> of the image config (other entries are skipped).</summary>
    public static string DockerEnvironmentScript(IEnumerable<string>? environment)
    {
        var text = new StringBuilder("#!/bin/sh\n");
        foreach (var entry in environment ?? [])
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || !IsVariableName(entry.AsSpan(0, equals)))
            {
                continue;
            }
            text.Append("export ").Append(entry[..equals]).Append('=').Append(ShellWord.Quote(entry[(equals + 1)..])).Append('\n');
        }
        return text.ToString();
    }

    /// <summary><c>labels.json</c>: the labels as one JSON object, in order, indented.</summary>
    public static string LabelsJson(IEnumerable<KeyValuePair<string, string>> labels)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            foreach (var (key, value) in labels)
            {
                json.WriteString(key, value);
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static bool IsVariableName(ReadOnlySpan<char> name) =>
        !char.IsAsciiDigit(name[0]) && !name.ContainsAnyExcept("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
}
