using Wave.Core.Names;

namespace Wave.Core.Sif;

/// <summary>The kind of a SIF data object (a descriptor's <c>datatype</c>).</summary>
public enum SifDataType
{
    /// <summary>The definition file the image was built from.</summary>
    Deffile = 0x4001,

    /// <summary>Environment variables. Singularity itself reads the environment from <c>/.singularity.d/env</c> in the root filesystem instead.</summary>
    EnvVar = 0x4002,

    /// <summary>Labels as a JSON object.</summary>
    Labels = 0x4003,

    /// <summary>A file system image (the root filesystem is a squashfs partition).</summary>
    Partition = 0x4004,
    Signature = 0x4005,
    GenericJson = 0x4006,
    Generic = 0x4007,
    CryptoMessage = 0x4008,
}

/// <summary>The file system of a partition (first field of a partition descriptor's <c>extra</c>).</summary>
public enum SifFileSystemType
{
    Squashfs = 1,
    Ext3 = 2,
    ImmutableObjects = 3,
    Raw = 4,
    EncryptedSquashfs = 5,
}

/// <summary>The role of a partition (second field of a partition descriptor's <c>extra</c>).</summary>
public enum SifPartitionType
{
    System = 1,

    /// <summary>The system partition a runtime starts: what <c>singularity build</c> writes and <c>singularity run</c> looks for.</summary>
    PrimarySystem = 2,
    Data = 3,
    Overlay = 4,
}

/// <summary>The two-digit architecture codes SIF stores as <c>"NN\0"</c> in the header and in partition descriptors.</summary>
public static class SifArchitecture
{
    public const string Unknown = "00";
    public const string Amd64 = "02";
    public const string Arm64 = "04";

    public static string CodeOf(ContainerPlatform platform)
    {
        ArgumentNullException.ThrowIfNull(platform);
        return platform.Architecture switch
        {
            "amd64" => Amd64,
            "arm64" => Arm64,
            _ => throw new ArgumentException($"no SIF architecture code for {platform}", nameof(platform)),
        };
    }

    /// <summary>The Go / OCI architecture name of a code (<c>02</c> → <c>amd64</c>), or null for codes this service does not build.</summary>
    public static string? NameOf(string code) => code switch
    {
        Amd64 => "amd64",
        Arm64 => "arm64",
        _ => null,
    };
}

/// <summary>
/// Sizes and places of the SIF v1 layout (sylabs/sif): a 128-byte little-endian header at offset 0, a fixed table of
/// 585-byte descriptors at 4096, then the data objects, each starting on a 4096-byte boundary.
/// </summary>
internal static class SifLayout
{
    public const string LaunchScript = "#!/usr/bin/env run-singularity\n";
    public const string Magic = "SIF_MAGIC";
    public const string Version = "01";

    public const int LaunchScriptLength = 32;
    public const int MagicLength = 10;
    public const int VersionLength = 3;
    public const int ArchitectureLength = 3;
    public const int HeaderLength = 128;

    public const int NameLength = 128;
    public const int ExtraLength = 384;
    public const int DescriptorLength = 585;

    public const long DescriptorsOffset = 4096;
    public const int DescriptorCapacity = 48;
    public const int Alignment = 4096;

    /// <summary>Group ids are stored with this mask set; the default group is 1.</summary>
    public const uint GroupMask = 0xf0000000;
    public const uint DefaultGroup = 1;

    // Header field offsets.
    public const int MagicOffset = 32;
    public const int VersionOffset = 42;
    public const int ArchitectureOffset = 45;
    public const int IdOffset = 48;
    public const int CreatedAtOffset = 64;
    public const int ModifiedAtOffset = 72;
    public const int DescriptorsFreeOffset = 80;
    public const int DescriptorsTotalOffset = 88;
    public const int DescriptorsOffsetOffset = 96;
    public const int DescriptorsSizeOffset = 104;
    public const int DataOffsetOffset = 112;
    public const int DataSizeOffset = 120;

    // Descriptor field offsets (packed, no alignment padding).
    public const int DataTypeField = 0;
    public const int UsedField = 4;
    public const int IdField = 5;
    public const int GroupIdField = 9;
    public const int LinkField = 13;
    public const int OffsetField = 17;
    public const int SizeField = 25;
    public const int StoredSizeField = 33;
    public const int CreatedAtField = 41;
    public const int ModifiedAtField = 49;
    public const int UidField = 57;
    public const int GidField = 65;
    public const int NameField = 73;
    public const int ExtraField = 201;

    public static long Align(long offset) => (offset + Alignment - 1) / Alignment * Alignment;
}
