using System.Buffers.Binary;
using System.Text;

namespace Wave.Core.Sif;

/// <summary>The global header of a SIF image.</summary>
public sealed record SifHeader(
    string LaunchScript,
    string Version,
    string Architecture,
    Guid Id,
    DateTimeOffset CreatedAt,
    DateTimeOffset ModifiedAt,
    long DescriptorsFree,
    long DescriptorsTotal,
    long DescriptorsOffset,
    long DescriptorsSize,
    long DataOffset,
    long DataSize);

/// <summary>A used descriptor: where its data object lies in the file and what it is.</summary>
public sealed record SifDescriptor(
    SifDataType DataType,
    uint Id,
    uint GroupId,
    uint LinkedId,
    long Offset,
    long Size,
    long StoredSize,
    DateTimeOffset CreatedAt,
    DateTimeOffset ModifiedAt,
    string Name,
    SifPartition? Partition);

/// <summary>The file is not a SIF image this service can read; the message says what is wrong and where.</summary>
public sealed class InvalidSifException(string message) : Exception(message);

/// <summary>
/// A parsed SIF image: its header and used descriptors, every offset checked against the file's length so that a
/// reader of a data object never goes past the end. Data objects are read on demand with <see cref="OpenObject"/>.
/// </summary>
public sealed class SifFile
{
    private SifFile(SifHeader header, IReadOnlyList<SifDescriptor> descriptors, long length)
    {
        Header = header;
        Descriptors = descriptors;
        Length = length;
    }

    public SifHeader Header { get; }

    /// <summary>The used descriptors, in table order.</summary>
    public IReadOnlyList<SifDescriptor> Descriptors { get; }

    public long Length { get; }

    /// <summary>The primary system partition (the root filesystem), or null when the image has none.</summary>
    public SifDescriptor? PrimaryPartition =>
        Descriptors.FirstOrDefault(d => d.DataType == SifDataType.Partition && d.Partition?.Type == SifPartitionType.PrimarySystem);

    /// <summary>Reads the header and descriptor table of a seekable stream (left positioned anywhere).</summary>
    /// <exception cref="InvalidSifException">Truncated, not a SIF file, an unknown version, or offsets outside the file.</exception>
    public static SifFile Parse(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek)
        {
            throw new ArgumentException("SIF parsing needs a seekable stream", nameof(stream));
        }
        var length = stream.Length;
        if (length < SifLayout.HeaderLength)
        {
            throw new InvalidSifException($"not a SIF image: the file is {length} bytes, shorter than the {SifLayout.HeaderLength}-byte SIF header");
        }
        var header = new byte[SifLayout.HeaderLength];
        ReadAt(stream, 0, header);

        var magic = Text(header.AsSpan(SifLayout.MagicOffset, SifLayout.MagicLength));
        if (magic != SifLayout.Magic || header[SifLayout.MagicOffset + SifLayout.MagicLength - 1] != 0)
        {
            throw new InvalidSifException($"not a SIF image: the magic at offset {SifLayout.MagicOffset} is '{Printable(magic)}', not '{SifLayout.Magic}'");
        }
        var version = Text(header.AsSpan(SifLayout.VersionOffset, SifLayout.VersionLength));
        if (version != SifLayout.Version)
        {
            throw new InvalidSifException($"unsupported SIF version '{Printable(version)}' (this reader knows version {SifLayout.Version})");
        }

        var total = Int64(header, SifLayout.DescriptorsTotalOffset);
        var free = Int64(header, SifLayout.DescriptorsFreeOffset);
        var tableOffset = Int64(header, SifLayout.DescriptorsOffsetOffset);
        if (total is < 0 or > 65536 || free < 0 || free > total)
        {
            throw new InvalidSifException($"corrupt SIF header: {total} descriptors in total, {free} free");
        }
        var tableLength = total * SifLayout.DescriptorLength;
        if (tableOffset < SifLayout.HeaderLength || tableOffset > length || tableLength > length - tableOffset)
        {
            throw new InvalidSifException(
                $"corrupt SIF header: the descriptor table (offset {tableOffset}, {total} descriptors of {SifLayout.DescriptorLength} bytes) lies outside the file ({length} bytes)");
        }
        var parsedHeader = new SifHeader(
            Text(header.AsSpan(0, SifLayout.LaunchScriptLength)),
            version,
            Text(header.AsSpan(SifLayout.ArchitectureOffset, SifLayout.ArchitectureLength)),
            new Guid(header.AsSpan(SifLayout.IdOffset, 16), bigEndian: true),
            Time(Int64(header, SifLayout.CreatedAtOffset)),
            Time(Int64(header, SifLayout.ModifiedAtOffset)),
            free,
            total,
            tableOffset,
            Int64(header, SifLayout.DescriptorsSizeOffset),
            Int64(header, SifLayout.DataOffsetOffset),
            Int64(header, SifLayout.DataSizeOffset));

        var table = new byte[tableLength];
        ReadAt(stream, tableOffset, table);
        var descriptors = new List<SifDescriptor>();
        for (var i = 0; i < total; i++)
        {
            var raw = table.AsSpan(i * SifLayout.DescriptorLength, SifLayout.DescriptorLength);
            if (raw[SifLayout.UsedField] == 0)
            {
                continue;
            }
            descriptors.Add(ParseDescriptor(raw, i, length));
        }
        if (descriptors.Count != total - free)
        {
            throw new InvalidSifException($"corrupt SIF header: it counts {total - free} used descriptors, the table holds {descriptors.Count}");
        }
        return new SifFile(parsedHeader, descriptors, length);
    }

    /// <summary>Parses the SIF file at <paramref name="path"/>.</summary>
    public static SifFile Parse(string path)
    {
        using var stream = File.OpenRead(path);
        return Parse(stream);
    }

    /// <summary>A read-only view of one data object's bytes in <paramref name="image"/> (the stream this file was parsed from).</summary>
    public static Stream OpenObject(Stream image, SifDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(descriptor);
        return new SliceStream(image, descriptor.Offset, descriptor.Size);
    }

    /// <summary>The bytes of a small data object (a definition file, labels).</summary>
    public static byte[] ReadObject(Stream image, SifDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        if (descriptor.Size > 64 * 1024 * 1024)
        {
            throw new InvalidSifException($"data object {descriptor.Id} is {descriptor.Size} bytes; read it as a stream");
        }
        var bytes = new byte[descriptor.Size];
        ReadAt(image, descriptor.Offset, bytes);
        return bytes;
    }

    private static SifDescriptor ParseDescriptor(ReadOnlySpan<byte> raw, int index, long fileLength)
    {
        var type = (SifDataType)BinaryPrimitives.ReadInt32LittleEndian(raw[SifLayout.DataTypeField..]);
        var id = BinaryPrimitives.ReadUInt32LittleEndian(raw[SifLayout.IdField..]);
        var offset = BinaryPrimitives.ReadInt64LittleEndian(raw[SifLayout.OffsetField..]);
        var size = BinaryPrimitives.ReadInt64LittleEndian(raw[SifLayout.SizeField..]);
        if (offset < 0 || size < 0 || offset > fileLength || size > fileLength - offset)
        {
            throw new InvalidSifException(
                $"corrupt SIF descriptor {index} (object {id}, {Describe(type)}): its data at offset {offset}, {size} bytes, lies outside the file ({fileLength} bytes)");
        }
        SifPartition? partition = null;
        if (type == SifDataType.Partition)
        {
            var extra = raw.Slice(SifLayout.ExtraField, SifLayout.ExtraLength);
            partition = new SifPartition(
                (SifFileSystemType)BinaryPrimitives.ReadInt32LittleEndian(extra),
                (SifPartitionType)BinaryPrimitives.ReadInt32LittleEndian(extra[4..]),
                Text(extra.Slice(8, SifLayout.ArchitectureLength)));
        }
        return new SifDescriptor(
            type,
            id,
            BinaryPrimitives.ReadUInt32LittleEndian(raw[SifLayout.GroupIdField..]) & ~SifLayout.GroupMask,
            BinaryPrimitives.ReadUInt32LittleEndian(raw[SifLayout.LinkField..]),
            offset,
            size,
            BinaryPrimitives.ReadInt64LittleEndian(raw[SifLayout.StoredSizeField..]),
            Time(BinaryPrimitives.ReadInt64LittleEndian(raw[SifLayout.CreatedAtField..])),
            Time(BinaryPrimitives.ReadInt64LittleEndian(raw[SifLayout.ModifiedAtField..])),
            Text(raw.Slice(SifLayout.NameField, SifLayout.NameLength)),
            partition);
    }

    private static string Describe(SifDataType type) => Enum.IsDefined(type) ? type.ToString() : $"type 0x{(int)type:x}";

    private static void ReadAt(Stream stream, long offset, byte[] buffer)
    {
        stream.Position = offset;
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidSifException($"truncated SIF image: {buffer.Length} bytes at offset {offset} could not be read");
        }
    }

    private static long Int64(byte[] bytes, int offset) => BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(offset));

    private static DateTimeOffset Time(long seconds) =>
        seconds is >= -62135596800 and <= 253402300799 ? DateTimeOffset.FromUnixTimeSeconds(seconds) : DateTimeOffset.MinValue;

    /// <summary>A NUL-terminated field as text (the bytes before the first NUL).</summary>
    private static string Text(ReadOnlySpan<byte> field)
    {
        var end = field.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? field : field[..end]);
    }

    private static string Printable(string text) => new([.. text.Select(c => char.IsControl(c) ? '?' : c)]);

    /// <summary>A window onto part of a seekable stream.</summary>
    private sealed class SliceStream(Stream inner, long start, long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => length;

        public override long Position
        {
            get => _position;
            set => _position = Math.Clamp(value, 0, length);
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var wanted = (int)Math.Min(buffer.Length, length - _position);
            if (wanted <= 0)
            {
                return 0;
            }
            inner.Position = start + _position;
            var read = inner.Read(buffer[..wanted]);
            _position += read;
            return read;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var wanted = (int)Math.Min(buffer.Length, length - _position);
            if (wanted <= 0)
            {
                return 0;
            }
            inner.Position = start + _position;
            var read = await inner.ReadAsync(buffer[..wanted], cancellationToken);
            _position += read;
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => length + offset,
        };

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
