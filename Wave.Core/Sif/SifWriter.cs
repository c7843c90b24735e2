using System.Buffers;
using System.Buffers.Binary;
using System.Text;

using Wave.Core.Names;

namespace Wave.Core.Sif;

/// <summary>Partition metadata: the file system, its role and its architecture code (<see cref="SifArchitecture"/>).</summary>
public sealed record SifPartition(SifFileSystemType FileSystem, SifPartitionType Type, string Architecture);

/// <summary>
/// One data object to write: its type, name, exact length and content. The content stream is read once, from its
/// current position, and is not disposed by the writer (the caller owns it).
/// </summary>
public sealed record SifDataObject(SifDataType Type, string Name, long Length, Stream Content, SifPartition? Partition = null)
{
    /// <summary>The definition file, UTF-8, as <c>singularity inspect --deffile</c> shows it.</summary>
    public static SifDataObject Definition(string text) => FromBytes(SifDataType.Deffile, Encoding.UTF8.GetBytes(text));

    /// <summary>Labels as a JSON object (UTF-8 bytes).</summary>
    public static SifDataObject Labels(byte[] json) => FromBytes(SifDataType.Labels, json);

    /// <summary>The root filesystem: a squashfs image of <paramref name="length"/> bytes, the primary system partition for <paramref name="platform"/>.</summary>
    public static SifDataObject SquashfsRoot(Stream squashfs, long length, ContainerPlatform platform) =>
        new(SifDataType.Partition, "", length, squashfs,
            new SifPartition(SifFileSystemType.Squashfs, SifPartitionType.PrimarySystem, SifArchitecture.CodeOf(platform)));

    public static SifDataObject FromBytes(SifDataType type, byte[] content, string name = "") =>
        new(type, name, content.LongLength, new MemoryStream(content, writable: false));
}

/// <summary>
/// Writes a SIF v1 image (the sylabs/sif layout) in one forward pass: header, descriptor table, then each data object
/// on a 4096-byte boundary. All offsets are computed from the objects' declared lengths first, so the output need not
/// be seekable and a partition is streamed through, never held in memory. The result depends only on the inputs: the
/// image id and the time are parameters, and every unused byte is zero.
/// </summary>
public static class SifWriter
{
    /// <summary>The size of the file <see cref="WriteAsync"/> writes for these objects.</summary>
    public static long LengthOf(IReadOnlyList<SifDataObject> objects) => Place(objects).End;

    /// <summary>Writes the image; returns the number of bytes written.</summary>
    /// <exception cref="ArgumentException">Too many objects, a name longer than 128 bytes, a bad architecture code, or a content stream that holds more or fewer bytes than declared.</exception>
    public static async Task<long> WriteAsync(Stream output, Guid id, DateTimeOffset createdAt, IReadOnlyList<SifDataObject> objects, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(objects);
        var placement = Place(objects);
        var seconds = createdAt.ToUnixTimeSeconds();

        var table = new byte[SifLayout.DescriptorsOffset + ((long)SifLayout.DescriptorCapacity * SifLayout.DescriptorLength)];
        WriteHeader(table, id, seconds, objects, placement);
        for (var i = 0; i < objects.Count; i++)
        {
            var descriptor = table.AsSpan((int)SifLayout.DescriptorsOffset + (i * SifLayout.DescriptorLength), SifLayout.DescriptorLength);
            WriteDescriptor(descriptor, (uint)(i + 1), seconds, objects[i], placement.Offsets[i], placement.StoredSizes[i]);
        }
        await output.WriteAsync(table, cancellationToken);

        var position = (long)table.Length;
        for (var i = 0; i < objects.Count; i++)
        {
            position += await WriteZerosAsync(output, placement.Offsets[i] - position, cancellationToken);
            position += await CopyExactlyAsync(objects[i], output, cancellationToken);
        }
        await output.FlushAsync(cancellationToken);
        return position;
    }

    private sealed record Placement(long[] Offsets, long[] StoredSizes, long DataOffset, long End);

    private static Placement Place(IReadOnlyList<SifDataObject> objects)
    {
        if (objects.Count > SifLayout.DescriptorCapacity)
        {
            throw new ArgumentException($"a SIF image holds at most {SifLayout.DescriptorCapacity} data objects; {objects.Count} were given", nameof(objects));
        }
        var dataOffset = SifLayout.DescriptorsOffset + ((long)SifLayout.DescriptorCapacity * SifLayout.DescriptorLength);
        var offsets = new long[objects.Count];
        var stored = new long[objects.Count];
        var cursor = dataOffset;
        for (var i = 0; i < objects.Count; i++)
        {
            var item = objects[i];
            if (item.Length < 0)
            {
                throw new ArgumentException($"data object {i + 1} has a negative length", nameof(objects));
            }
            if (Encoding.UTF8.GetByteCount(item.Name) > SifLayout.NameLength)
            {
                throw new ArgumentException($"data object {i + 1}: the name '{item.Name}' is longer than {SifLayout.NameLength} bytes", nameof(objects));
            }
            if (item.Partition is { } partition && (partition.Architecture.Length != 2 || !partition.Architecture.All(char.IsAsciiDigit)))
            {
                throw new ArgumentException($"data object {i + 1}: '{partition.Architecture}' is not a two-digit SIF architecture code", nameof(objects));
            }
            offsets[i] = SifLayout.Align(cursor);
            stored[i] = offsets[i] - cursor + item.Length;
            cursor = offsets[i] + item.Length;
        }
        return new Placement(offsets, stored, dataOffset, cursor);
    }

    private static void WriteHeader(Span<byte> header, Guid id, long seconds, IReadOnlyList<SifDataObject> objects, Placement placement)
    {
        Encoding.ASCII.GetBytes(SifLayout.LaunchScript, header);
        Encoding.ASCII.GetBytes(SifLayout.Magic, header[SifLayout.MagicOffset..]);
        Encoding.ASCII.GetBytes(SifLayout.Version, header[SifLayout.VersionOffset..]);
        // The header names the architecture of the primary partition (what the image runs on), "00" without one.
        var primary = objects.FirstOrDefault(o => o.Partition?.Type == SifPartitionType.PrimarySystem);
        Encoding.ASCII.GetBytes(primary?.Partition!.Architecture ?? SifArchitecture.Unknown, header[SifLayout.ArchitectureOffset..]);
        id.TryWriteBytes(header[SifLayout.IdOffset..], bigEndian: true, out _);
        BinaryPrimitives.WriteInt64LittleEndian(header[SifLayout.CreatedAtOffset..], seconds);
        BinaryPrimitives.WriteInt64LittleEndian(header[SifLayout.ModifiedAtOffset..], seconds);
        BinaryPrimitives.WriteInt64LittleEndian(header[SifLayout.DescriptorsFreeOffset..], SifLayout.DescriptorCapacity - objects.Count);
        BinaryPrimitives.WriteInt64LittleEndian(header[SifLayout.DescriptorsTotalOffset..], SifLayout.DescriptorCapacity);
        BinaryPrimitives.WriteInt64LittleEndian(header[SifLayout.DescriptorsOffsetOffset..], SifLayout.DescriptorsOffset);
        BinaryPrimitives.WriteInt64LittleEndian(header[SifLayout.DescriptorsSizeOffset..], (long)SifLayout.DescriptorCapacity * SifLayout.DescriptorLength);
        BinaryPrimitives.WriteInt64LittleEndian(header[SifLayout.DataOffsetOffset..], placement.DataOffset);
        BinaryPrimitives.WriteInt64LittleEndian(header[SifLayout.DataSizeOffset..], placement.End - placement.DataOffset);
    }

    private static void WriteDescriptor(Span<byte> descriptor, uint objectId, long seconds, SifDataObject item, long offset, long storedSize)
    {
        BinaryPrimitives.WriteInt32LittleEndian(descriptor[SifLayout.DataTypeField..], (int)item.Type);
        descriptor[SifLayout.UsedField] = 1;
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor[SifLayout.IdField..], objectId);
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor[SifLayout.GroupIdField..], SifLayout.DefaultGroup | SifLayout.GroupMask);
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor[SifLayout.LinkField..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(descriptor[SifLayout.OffsetField..], offset);
        BinaryPrimitives.WriteInt64LittleEndian(descriptor[SifLayout.SizeField..], item.Length);
        BinaryPrimitives.WriteInt64LittleEndian(descriptor[SifLayout.StoredSizeField..], storedSize);
        BinaryPrimitives.WriteInt64LittleEndian(descriptor[SifLayout.CreatedAtField..], seconds);
        BinaryPrimitives.WriteInt64LittleEndian(descriptor[SifLayout.ModifiedAtField..], seconds);
        // uid and gid (deprecated in the format) stay 0.
        Encoding.UTF8.GetBytes(item.Name, descriptor.Slice(SifLayout.NameField, SifLayout.NameLength));
        if (item.Partition is { } partition)
        {
            var extra = descriptor.Slice(SifLayout.ExtraField, SifLayout.ExtraLength);
            BinaryPrimitives.WriteInt32LittleEndian(extra, (int)partition.FileSystem);
            BinaryPrimitives.WriteInt32LittleEndian(extra[4..], (int)partition.Type);
            Encoding.ASCII.GetBytes(partition.Architecture, extra[8..]);
        }
    }

    private static async Task<long> WriteZerosAsync(Stream output, long count, CancellationToken cancellationToken)
    {
        var zeros = new byte[Math.Min(count, SifLayout.Alignment)];
        for (var left = count; left > 0; left -= zeros.Length)
        {
            await output.WriteAsync(zeros.AsMemory(0, (int)Math.Min(left, zeros.Length)), cancellationToken);
        }
        return count;
    }

    private static async Task<long> CopyExactlyAsync(SifDataObject item, Stream output, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(1024 * 1024);
        try
        {
            var left = item.Length;
            while (left > 0)
            {
                var read = await item.Content.ReadAsync(buffer.AsMemory(0, (int)Math.Min(left, buffer.Length)), cancellationToken);
                if (read == 0)
                {
                    throw new ArgumentException($"the {item.Type} data object ended after {item.Length - left} of its declared {item.Length} bytes");
                }
                await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                left -= read;
            }
            if (await item.Content.ReadAsync(buffer.AsMemory(0, 1), cancellationToken) != 0)
            {
                throw new ArgumentException($"the {item.Type} data object holds more than its declared {item.Length} bytes");
            }
            return item.Length;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
