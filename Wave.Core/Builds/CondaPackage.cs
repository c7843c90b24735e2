namespace Wave.Core.Builds;

/// <summary>A package's name and version as read from a Conda match spec, for naming images (never for solving).</summary>
public sealed record CondaPackage(string Name, string? Version)
{
    private static readonly char[] VersionOperators = ['=', '<', '>', '!', '~', ' '];

    /// <summary>
    /// <c>bioconda::salmon=1.10.3</c> → (salmon, 1.10.3); <c>bwa==0.7.17</c> → (bwa, 0.7.17); <c>numpy&gt;=1.2,&lt;2</c> →
    /// (numpy, 1.2); <c>samtools</c> → (samtools, null). The channel prefix (up to the last <c>::</c>) and a build
    /// string after a second <c>=</c> are dropped. Null for URLs and for specs without a name.
    /// </summary>
    public static CondaPackage? FromSpec(string spec)
    {
        var text = spec.Trim();
        if (text.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        var channelEnd = text.LastIndexOf("::", StringComparison.Ordinal);
        if (channelEnd >= 0)
        {
            text = text[(channelEnd + 2)..];
        }
        var bracket = text.IndexOf('[');
        if (bracket >= 0)
        {
            text = text[..bracket];
        }
        var operatorAt = text.IndexOfAny(VersionOperators);
        var name = (operatorAt < 0 ? text : text[..operatorAt]).Trim();
        if (name.Length == 0)
        {
            return null;
        }
        string? version = null;
        if (operatorAt >= 0)
        {
            var rest = text[operatorAt..].TrimStart(VersionOperators);
            var end = 0;
            while (end < rest.Length && (char.IsAsciiLetterOrDigit(rest[end]) || rest[end] is '.' or '_'))
            {
                end++;
            }
            version = end > 0 ? rest[..end] : null;
        }
        return new CondaPackage(name, version);
    }
}
