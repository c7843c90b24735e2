namespace Wave.Core.Builds;

/// <summary>How a built image is named (rules in docs/build-naming.md).</summary>
public enum NameStrategy
{
    /// <summary><c>&lt;repo&gt;:&lt;id&gt;</c>.</summary>
    None,

    /// <summary><c>&lt;repo&gt;:&lt;packages&gt;--&lt;id&gt;</c>; the default.</summary>
    TagPrefix,

    /// <summary><c>&lt;repo&gt;/&lt;packages&gt;:&lt;version&gt;--&lt;id&gt;</c>.</summary>
    ImageSuffix,
}

public static class NameStrategies
{
    public const NameStrategy Default = NameStrategy.TagPrefix;

    /// <summary>Accepts <c>none</c>, <c>tagPrefix</c>, <c>imageSuffix</c> (as the API spells them; case-insensitive); null means the default.</summary>
    public static bool TryParse(string? value, out NameStrategy strategy)
    {
        strategy = value?.ToLowerInvariant() switch
        {
            null => Default,
            "none" => NameStrategy.None,
            "tagprefix" => NameStrategy.TagPrefix,
            "imagesuffix" => NameStrategy.ImageSuffix,
            _ => (NameStrategy)(-1),
        };
        return Enum.IsDefined(strategy);
    }

    /// <summary>The API spelling: <c>none</c>, <c>tagPrefix</c>, <c>imageSuffix</c>.</summary>
    public static string ToApiName(this NameStrategy strategy) => strategy switch
    {
        NameStrategy.None => "none",
        NameStrategy.TagPrefix => "tagPrefix",
        NameStrategy.ImageSuffix => "imageSuffix",
        _ => throw new ArgumentOutOfRangeException(nameof(strategy)),
    };
}
