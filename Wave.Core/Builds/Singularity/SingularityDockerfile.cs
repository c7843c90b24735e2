using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Wave.Core.Builds.Singularity;

/// <summary>A Dockerfile and the context files it copies (by relative path).</summary>
public sealed record SingularityDockerBuild(string Dockerfile, IReadOnlyDictionary<string, string> ContextFiles);

/// <summary>
/// Translates a <see cref="SingularityDefinition"/> into a Dockerfile the ordinary build backend builds:
/// <c>FROM</c> the image, one <c>COPY</c> per <c>%files</c> line (sources come from the build context), the
/// <c>%post</c> script copied in and run with <c>/bin/sh -e</c>, then the <c>/.singularity.d/</c> files written from
/// <c>%environment</c>, <c>%runscript</c> and <c>%labels</c>. The scripts travel as context files under
/// <c>singularity/</c> rather than inline, so that no quoting can change them. The image this builds is then turned
/// into a SIF by the builder (see Wave.Builder/Sif/README.md).
/// </summary>
public static class SingularityDockerfile
{
    public const string ContextDirectory = "singularity";
    public const string PostScript = "singularity/post.sh";
    public const string EnvironmentScript = "singularity/90-environment.sh";
    public const string Runscript = "singularity/runscript";
    public const string Labels = "singularity/labels.json";

    /// <summary>
    /// The definition file as the client sent it, carried in the build context so that it is part of the container id
    /// and reaches the builder, which stores it in the SIF (the Dockerfile does not COPY it).
    /// </summary>
    public const string DefinitionFile = "singularity/Singularity.def";

    private const string PostScriptInImage = "/.singularity.d/wave-post.sh";

    /// <summary>Parses and translates; throws <see cref="InvalidBuildRequestException"/> (field <c>containerFile</c>) for what is not supported.</summary>
    public static SingularityDockerBuild Translate(string definitionText) => Translate(SingularityDefinition.Parse(definitionText));

    public static SingularityDockerBuild Translate(SingularityDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var context = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var text = new StringBuilder();
        text.Append("FROM ").Append(definition.From).Append('\n');
        foreach (var copy in definition.Files)
        {
            text.Append("COPY ").Append(JsonArray(copy.Source, copy.Destination)).Append('\n');
        }
        if (definition.Post is { } post)
        {
            context[PostScript] = "#!/bin/sh\n" + post + "\n";
            text.Append("COPY ").Append(PostScript).Append(' ').Append(PostScriptInImage).Append('\n');
            text.Append("RUN /bin/sh -e ").Append(PostScriptInImage).Append(" && rm -f ").Append(PostScriptInImage).Append('\n');
        }
        context[EnvironmentScript] = SingularityRuntimeFiles.EnvironmentScript(definition.Environment);
        text.Append("COPY --chmod=0755 ").Append(EnvironmentScript).Append(" /").Append(SingularityRuntimeFiles.EnvironmentPath).Append('\n');
        if (definition.Runscript is { } runscript)
        {
            context[Runscript] = SingularityRuntimeFiles.Runscript(runscript);
            text.Append("COPY --chmod=0755 ").Append(Runscript).Append(" /").Append(SingularityRuntimeFiles.RunscriptPath).Append('\n');
        }
        context[Labels] = SingularityRuntimeFiles.LabelsJson(definition.Labels);
        text.Append("COPY --chmod=0644 ").Append(Labels).Append(" /").Append(SingularityRuntimeFiles.LabelsPath).Append('\n');
        return new SingularityDockerBuild(text.ToString(), context);
    }

    /// <summary>The exec (JSON) form of COPY, which keeps spaces and quotes in paths.</summary>
    private static string JsonArray(params string[] words)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartArray();
            foreach (var word in words)
            {
                json.WriteStringValue(word);
            }
            json.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
