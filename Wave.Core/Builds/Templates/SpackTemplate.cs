using System.Text;

namespace Wave.Core.Builds.Templates;

/// <summary>
/// The Dockerfile that builds a Spack environment (<c>spack.yaml</c> in the build context) in a builder image and
/// copies the installed software and its view into a small runtime image.
/// </summary>
public static class SpackTemplate
{
    public const string EnvironmentFileName = "spack.yaml";

    public static string Render(string builderImage, string runnerImage)
    {
        var text = new StringBuilder();
        text.Append("FROM ").Append(builderImage).Append(" AS builder\n");
        text.Append("COPY ").Append(EnvironmentFileName).Append(" /opt/spack-env/spack.yaml\n");
        // "spack -e ." rather than "spack env activate": activation needs shell support that a RUN step does not have.
        text.Append("RUN cd /opt/spack-env \\\n");
        text.Append("    && spack -e . config add config:install_tree:root:/opt/software \\\n");
        text.Append("    && spack -e . config add view:/opt/view \\\n");
        text.Append("    && spack -e . concretize -f \\\n");
        text.Append("    && spack -e . install --fail-fast \\\n");
        text.Append("    && spack -e . gc -y \\\n");
        text.Append("    && spack env activate --sh -d . > /opt/spack-env/activate.sh\n");
        text.Append('\n');
        text.Append("FROM ").Append(runnerImage).Append('\n');
        text.Append("COPY --from=builder /opt/spack-env /opt/spack-env\n");
        text.Append("COPY --from=builder /opt/software /opt/software\n");
        text.Append("COPY --from=builder /opt/view /opt/view\n");
        text.Append("ENV PATH=\"/opt/view/bin:$PATH\"\n");
        text.Append("ENTRYPOINT [\"/bin/sh\", \"-c\", \". /opt/spack-env/activate.sh && exec \\\"$@\\\"\", \"--\"]\n");
        text.Append("CMD [\"/bin/sh\"]\n");
        return text.ToString();
    }
}
