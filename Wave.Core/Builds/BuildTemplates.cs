namespace Wave.Core.Builds;

/// <summary>The names a request's <c>buildTemplate</c> takes, and which one a <c>packages</c> build gets without it.</summary>
public static class BuildTemplates
{
    public const string CondaMicromambaV1 = "conda/micromamba:v1";
    public const string CondaMicromambaV2 = "conda/micromamba:v2";
    public const string CondaPixiV1 = "conda/pixi:v1";
    public const string CranInstallrV1 = "cran/installr:v1";

    public static readonly IReadOnlyList<string> All = [CondaMicromambaV2, CondaMicromambaV1, CondaPixiV1, CranInstallrV1];

    public const string Conda = "CONDA";
    public const string Cran = "CRAN";

    /// <summary>The template of a <c>packages.type</c> when the request names none: micromamba v2 for CONDA, installr for CRAN.</summary>
    public static string DefaultFor(string packagesType) =>
        packagesType.Equals(Cran, StringComparison.OrdinalIgnoreCase) ? CranInstallrV1 : CondaMicromambaV2;

    /// <summary>The package type a template installs.</summary>
    public static string TypeOf(string template) => template == CranInstallrV1 ? Cran : Conda;
}
