using System.Text;

namespace Wave.Core.Builds.Templates;

/// <summary>
/// The <c>conda/pixi:v1</c> Dockerfile: a build stage imports the Conda environment file (<c>conda.yml</c> in the build
/// context) into a pixi project, adds the base packages, writes pixi's activation script and prints <c>pixi.lock</c>
/// between the lock markers; the final stage gets only the installed environment and the activation script, which is
/// its entrypoint (so every command runs inside the environment, without pixi).
/// </summary>
public static class PixiTemplate
{
    public const string ProjectDirectory = "/opt/wave";

    /// <param name="basePackages">Package specs added with <c>pixi add</c>; empty for none.</param>
    /// <param name="commands">Dockerfile lines appended at the end, one instruction each.</param>
    public static string Render(string pixiImage, string baseImage, IReadOnlyList<string> basePackages, IReadOnlyList<string> commands)
    {
        var text = new StringBuilder();
        text.Append("FROM ").Append(pixiImage).Append(" AS build\n");
        text.Append('\n');
        text.Append("COPY ").Append(CondaTemplate.EnvironmentFileName).Append(' ').Append(ProjectDirectory).Append("/conda.yml\n");
        text.Append("WORKDIR ").Append(ProjectDirectory).Append('\n');
        text.Append('\n');
        text.Append("RUN pixi init --import ").Append(ProjectDirectory).Append("/conda.yml \\\n");
        text.Append("    && pixi add conda-forge::which \\\n");
        if (basePackages.Count > 0)
        {
            text.Append("    && pixi add ").Append(string.Join(' ', basePackages.Select(ShellWord.Quote))).Append(" \\\n");
        }
        text.Append("    && pixi shell-hook > /shell-hook.sh \\\n");
        text.Append("    && echo 'exec \"$@\"' >> /shell-hook.sh \\\n");
        text.Append("    && echo \"").Append(CondaLock.StartMarker).Append("\" \\\n");
        text.Append("    && cat ").Append(ProjectDirectory).Append("/pixi.lock \\\n");
        text.Append("    && echo \"").Append(CondaLock.EndMarker).Append("\"\n");
        text.Append('\n');
        text.Append("FROM ").Append(baseImage).Append(" AS final\n");
        text.Append('\n');
        text.Append("COPY --from=build ").Append(ProjectDirectory).Append("/.pixi/envs/default ").Append(ProjectDirectory).Append("/.pixi/envs/default\n");
        text.Append("COPY --from=build /shell-hook.sh /shell-hook.sh\n");
        text.Append("USER root\n");
        text.Append("ENV USER=root\n");
        text.Append("ENTRYPOINT [\"/bin/bash\", \"/shell-hook.sh\"]\n");
        text.Append("CMD [\"/bin/bash\"]\n");
        CondaTemplate.AppendCommands(text, commands);
        return text.ToString();
    }
}
