using System.Text;

namespace Wave.Core.Builds.Templates;

/// <summary>What a Conda template installs: the environment file in the build context and the options around it.</summary>
/// <param name="EnvironmentFile">
/// <see cref="CondaTemplate.EnvironmentFileName"/> (an environment file) or <see cref="CondaTemplate.LockFileName"/> (a
/// lock file fetched from a <c>packages.entries</c> URL).
/// </param>
/// <param name="Channels">Channels passed with <c>-c</c> when a lock file is installed (an environment file names its own).</param>
/// <param name="BasePackages">Package specs installed next to the environment; empty for none.</param>
/// <param name="Commands">Dockerfile lines appended at the end, one instruction each.</param>
public sealed record CondaTemplateInput(
    string MambaImage,
    string EnvironmentFile,
    IReadOnlyList<string> Channels,
    IReadOnlyList<string> BasePackages,
    IReadOnlyList<string> Commands);

/// <summary>
/// The Dockerfiles that install a Conda environment with micromamba and print the resolved lock between
/// <see cref="CondaLock.StartMarker"/> and <see cref="CondaLock.EndMarker"/>:
/// <list type="bullet">
/// <item><c>conda/micromamba:v1</c> (<see cref="RenderV1"/>): one stage, the environment installed into the micromamba
/// image itself.</item>
/// <item><c>conda/micromamba:v2</c> (<see cref="RenderV2"/>): a build stage on a micromamba 2 image, then only the
/// installed prefix copied into a plain base image, so the result carries no micromamba. The install is tried once more
/// with <c>CONDA_OVERRIDE_CUDA</c> when the solver asked for the <c>__cuda</c> virtual package (a builder has no GPU),
/// and <c>which</c> is made available at <c>/usr/bin/which</c> for post-link scripts of R packages.</item>
/// </list>
/// </summary>
public static class CondaTemplate
{
    public const string EnvironmentFileName = "conda.yml";

    /// <summary>The name a remote lock file is fetched into the build context under.</summary>
    public const string LockFileName = "conda.lock";

    /// <summary>The prefix the v2 template installs into and copies (the micromamba images' own).</summary>
    public const string MambaRootPrefix = "/opt/conda";

    /// <summary>The v1 template for an environment file (kept for existing callers).</summary>
    public static string Render(string mambaImage, IReadOnlyList<string> basePackages, IReadOnlyList<string> commands) =>
        RenderV1(new CondaTemplateInput(mambaImage, EnvironmentFileName, [], basePackages, commands));

    public static string RenderV1(CondaTemplateInput input)
    {
        var text = new StringBuilder();
        text.Append("FROM ").Append(input.MambaImage).Append('\n');
        text.Append("COPY --chown=$MAMBA_USER:$MAMBA_USER ").Append(input.EnvironmentFile).Append(" /tmp/").Append(input.EnvironmentFile).Append('\n');
        text.Append("RUN micromamba install -y -n base").Append(InstallArguments(input)).Append(" \\\n");
        AppendBasePackages(text, input.BasePackages);
        text.Append("    && micromamba env export --name base --explicit > environment.lock \\\n");
        AppendLockPrint(text, last: false);
        text.Append("    && micromamba clean -a -y\n");
        text.Append("USER root\n");
        text.Append("ENV PATH=\"$MAMBA_ROOT_PREFIX/bin:$PATH\"\n");
        AppendCommands(text, input.Commands);
        return text.ToString();
    }

    /// <param name="baseImage">The image of the final stage, which receives the installed prefix.</param>
    public static string RenderV2(CondaTemplateInput input, string baseImage)
    {
        var install = "micromamba install -y -n base" + InstallArguments(input);
        var text = new StringBuilder();
        text.Append("FROM ").Append(input.MambaImage).Append(" AS build\n");
        text.Append("USER root\n");
        text.Append("COPY --chown=$MAMBA_USER:$MAMBA_USER ").Append(input.EnvironmentFile).Append(" /tmp/").Append(input.EnvironmentFile).Append('\n');
        text.Append("RUN micromamba install -y -n base conda-forge::which \\\n");
        text.Append("    && ln -sf \"$MAMBA_ROOT_PREFIX/bin/which\" /usr/bin/which \\\n");
        // The solver's output goes to a file first, so that a failure that mentions __cuda can be retried quietly.
        text.Append("    && (").Append(install).Append(" > /tmp/mamba.log 2>&1 \\\n");
        text.Append("    && cat /tmp/mamba.log \\\n");
        text.Append("    || (cat /tmp/mamba.log >&2 && grep -q __cuda /tmp/mamba.log \\\n");
        text.Append("        && CONDA_OVERRIDE_CUDA=\"99\" ").Append(install).Append(")) \\\n");
        AppendBasePackages(text, input.BasePackages);
        text.Append("    && micromamba clean -a -y \\\n");
        text.Append("    && micromamba env export --name base --explicit > environment.lock \\\n");
        AppendLockPrint(text, last: true);
        text.Append('\n');
        text.Append("FROM ").Append(baseImage).Append(" AS prod\n");
        text.Append("ARG MAMBA_ROOT_PREFIX=\"").Append(MambaRootPrefix).Append("\"\n");
        text.Append("ENV MAMBA_ROOT_PREFIX=$MAMBA_ROOT_PREFIX\n");
        text.Append("COPY --from=build \"$MAMBA_ROOT_PREFIX\" \"$MAMBA_ROOT_PREFIX\"\n");
        text.Append("USER root\n");
        text.Append("ENV PATH=\"$MAMBA_ROOT_PREFIX/bin:$PATH\"\n");
        AppendCommands(text, input.Commands);
        return text.ToString();
    }

    /// <summary>True for a micromamba 1.x image (<c>mambaorg/micromamba:1.5.10-noble</c>), by its tag.</summary>
    public static bool IsMicromambaV1(string image)
    {
        var at = image.IndexOf("micromamba:", StringComparison.Ordinal);
        if (at < 0)
        {
            return false;
        }
        var tag = image[(at + "micromamba:".Length)..];
        return tag.Length >= 2 && tag[0] == '1' && tag[1] is '.' or '-';
    }

    private static string InstallArguments(CondaTemplateInput input)
    {
        var text = new StringBuilder();
        if (input.EnvironmentFile == LockFileName)
        {
            foreach (var channel in input.Channels)
            {
                text.Append(" -c ").Append(ShellWord.Quote(channel));
            }
        }
        return text.Append(" -f /tmp/").Append(input.EnvironmentFile).ToString();
    }

    private static void AppendBasePackages(StringBuilder text, IReadOnlyList<string> basePackages)
    {
        if (basePackages.Count > 0)
        {
            text.Append("    && micromamba install -y -n base ").Append(string.Join(' ', basePackages.Select(ShellWord.Quote))).Append(" \\\n");
        }
    }

    private static void AppendLockPrint(StringBuilder text, bool last)
    {
        text.Append("    && echo \"").Append(CondaLock.StartMarker).Append("\" \\\n");
        text.Append("    && cat environment.lock \\\n");
        text.Append("    && echo \"").Append(CondaLock.EndMarker).Append('"').Append(last ? "\n" : " \\\n");
    }

    internal static void AppendCommands(StringBuilder text, IReadOnlyList<string> commands)
    {
        foreach (var command in commands)
        {
            text.Append(command).Append('\n');
        }
    }
}
