using System.Text;

namespace Wave.Core.Builds.Templates;

/// <summary>
/// The <c>cran/installr:v1</c> Dockerfile: on an R image (rocker, with littler), set the package repositories, install
/// the base Debian packages, install the R packages with <c>install2.r</c>, and remove download leftovers and apt lists.
/// </summary>
/// <remarks>
/// Repositories come from <c>packages.channels</c>: <c>cran</c> (or none) is <c>https://cloud.r-project.org/</c>,
/// <c>bioconductor</c> sets the Bioconductor mirror, anything else is taken as a CRAN-like repository URL; they are
/// written to R's <c>Rprofile.site</c> (the reference server sets them with <c>R -e</c>, in an R process that ends
/// before install2.r starts, so they never applied). Entries
/// <c>bioc::NAME</c> are installed with <c>BiocManager::install</c> (BiocManager itself from CRAN first), the others
/// with <c>install2.r</c>. (The reference server writes <c>BiocManager::install('NAME')</c> among install2.r's
/// arguments, where the shell refuses the parentheses; here each kind gets its own installer.)
/// </remarks>
public static class CranTemplate
{
    public const string DefaultCranRepository = "https://cloud.r-project.org/";
    public const string BioconductorMirror = "https://bioconductor.org";
    public const string BioconductorPrefix = "bioc::";

    /// <param name="packages">R package names (checked by the caller: no quotes, no white space).</param>
    /// <param name="repositories">The request's channels: <c>cran</c>, <c>bioconductor</c> or repository URLs.</param>
    /// <param name="basePackages">Debian packages installed first; empty for none.</param>
    public static string Render(string rImage, IReadOnlyList<string> packages, IReadOnlyList<string> repositories, IReadOnlyList<string> basePackages, IReadOnlyList<string> commands)
    {
        var text = new StringBuilder();
        text.Append("FROM ").Append(rImage).Append('\n');
        text.Append("RUN \\\n");
        // In R's site profile, so that every R process after it (install2.r's too) uses these repositories.
        text.Append("    echo \"").Append(RepositoryOptions(repositories)).Append("\" >> \"$(R RHOME)/etc/Rprofile.site\" \\\n");
        if (basePackages.Count > 0)
        {
            text.Append("    && apt-get update && apt-get install -y ").Append(string.Join(' ', basePackages.Select(ShellWord.Quote))).Append(" \\\n");
        }
        var cran = packages.Where(p => !p.StartsWith(BioconductorPrefix, StringComparison.Ordinal)).ToList();
        var bioconductor = packages.Where(p => p.StartsWith(BioconductorPrefix, StringComparison.Ordinal)).Select(p => p[BioconductorPrefix.Length..]).ToList();
        if (bioconductor.Count > 0)
        {
            cran.Insert(0, "BiocManager");
        }
        if (cran.Count > 0)
        {
            text.Append("    && install2.r ").Append(string.Join(' ', cran.Select(p => $"'{p}'"))).Append(" \\\n");
        }
        if (bioconductor.Count > 0)
        {
            text.Append("    && R -e \"BiocManager::install(c(").Append(string.Join(", ", bioconductor.Select(p => $"'{p}'"))).Append("), ask = FALSE)\" \\\n");
        }
        text.Append("    && rm -rf /tmp/downloaded_packages/ /tmp/*.rds \\\n");
        text.Append("    && rm -rf /var/lib/apt/lists/*\n");
        text.Append("USER root\n");
        text.Append("ENV R_LIBS_USER=\"/usr/local/lib/R/site-library\"\n");
        CondaTemplate.AppendCommands(text, commands);
        return text.ToString();
    }

    private static string RepositoryOptions(IReadOnlyList<string> repositories)
    {
        var urls = new List<string>();
        var bioconductor = false;
        foreach (var repository in repositories)
        {
            switch (repository.ToLowerInvariant())
            {
                case "bioconductor":
                    bioconductor = true;
                    break;
                case "cran":
                    urls.Add(DefaultCranRepository);
                    break;
                default:
                    urls.Add(repository);
                    break;
            }
        }
        if (urls.Count == 0)
        {
            urls.Add(DefaultCranRepository);
        }
        var named = urls.Distinct(StringComparer.Ordinal).Select((url, i) => i == 0 ? $"CRAN = '{url}'" : $"R{i + 1} = '{url}'");
        var options = $"options(repos = c({string.Join(", ", named)}))";
        return bioconductor ? options + $"; options(BioC_mirror = '{BioconductorMirror}')" : options;
    }
}
