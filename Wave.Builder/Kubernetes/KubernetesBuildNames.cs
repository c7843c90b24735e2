using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Wave.Builder.Kubernetes;

/// <summary>
/// The names of one build's Kubernetes objects, derived from the buildId alone so that a restarted builder finds the
/// objects of the build it re-runs. Names are DNS-1123 labels (lowercase alphanumerics and '-', at most 63 chars);
/// a hash of the buildId keeps two ids that sanitise alike apart.
/// </summary>
public sealed partial record KubernetesBuildNames(string Job, string Secret, string ConfigMap, string BuildIdLabel)
{
    public const string BuildIdLabelKey = "wave.seqera.io/build-id";
    public const string ContainerName = "build";

    public string PodSelector => $"{BuildIdLabelKey}={BuildIdLabel}";

    public static KubernetesBuildNames For(string buildId)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(buildId)))[..8];
        var slug = NotDnsLabel().Replace(buildId.ToLowerInvariant(), "-").Trim('-');
        if (slug.Length > 40)
        {
            slug = slug[..40].TrimEnd('-');
        }
        var name = slug.Length == 0 ? $"wave-{hash}" : $"wave-{slug}-{hash}";

        // Label values allow upper case, '_' and '.', but must start and end alphanumeric and fit 63 chars.
        var label = NotLabelValue().Replace(buildId, "-").Trim('-', '_', '.');
        if (label.Length == 0 || label.Length > 63 || label != buildId)
        {
            label = name;
        }
        return new KubernetesBuildNames(name, $"{name}-auth", $"{name}-context", label);
    }

    [GeneratedRegex("[^a-z0-9-]+")]
    private static partial Regex NotDnsLabel();

    [GeneratedRegex("[^A-Za-z0-9._-]")]
    private static partial Regex NotLabelValue();
}
