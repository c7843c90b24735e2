using System.Text;

namespace Wave.Core.Builds.Templates;

/// <summary>
/// The Dockerfile that installs a Conda environment (<c>conda.yml</c> in the build context) with micromamba and prints
/// the resolved lock between <see cref="CondaLock.StartMarker"/> and <see cref="CondaLock.EndMarker"/>.
/// </summary>
public static class CondaTemplate
{
    public const string EnvironmentFileName = "conda.yml";

    /// <param name="basePackages">Package specs installed next to the environment; empty for none.</param>
    /// <param name="commands">Dockerfile lines appended at the end, one instruction each.</param>
    public static string Render(string mambaImage, IReadOnlyList<string> basePackages, IReadOnlyList<string> commands)
    {
        var text = new StringBuilder();
        text.Append("FROM ").Append(mambaImage).Append('\n');
        text.Append("COPY --chown=$MAMBA_USER:$MAMBA_USER ").Append(EnvironmentFileName).Append(" /tmp/conda.yml\n");
        text.Append("RUN micromamba install -y -n base -f /tmp/conda.yml \\\n");
        if (basePackages.Count > 0)
        {
            text.Append("    && micromamba install -y -n base ").Append(string.Join(' ', basePackages.Select(ShellWord.Quote))).Append(" \\\n");
        }
        text.Append("    && micromamba env export --name base --explicit > environment.lock \\\n");
        text.Append("    && echo \"").Append(CondaLock.StartMarker).Append("\" \\\n");
        text.Append("    && cat environment.lock \\\n");
        text.Append("    && echo \"").Append(CondaLock.EndMarker).Append("\" \\\n");
        text.Append("    && micromamba clean -a -y\n");
        text.Append("USER root\n");
        text.Append("ENV PATH=\"$MAMBA_ROOT_PREFIX/bin:$PATH\"\n");
        foreach (var command in commands)
        {
            text.Append(command).Append('\n');
        }
        return text.ToString();
    }
}
