using System.Buffers.Binary;
using System.Text;

using Wave.Core.Names;
using Wave.Core.Sif;

namespace Wave.Tests.Sif;

/// <summary>
/// The SIF writer checked by reading its bytes at the offsets of the sylabs/sif v1 layout, written out here as numbers
/// (not taken from the writer), and the parser's refusals of damaged files.
/// </summary>
public sealed class SifFormatTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static readonly Guid Id = Guid.Parse("0b5e2d0c-7a4f-4c1e-9d3a-52f1c0a7e9b4");
    private static readonly DateTimeOffset Time = new(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);
    private const string Definition = "Bootstrap: docker\nFrom: busybox\n\n%runscript\n    echo hi\n";
    private static readonly byte[] Labels = "{\"a\":\"b\"}"u8.ToArray();

    private static byte[] Partition()
    {
        var bytes = new byte[10_000];
        new Random(42).NextBytes(bytes);
        return bytes;
    }

    private static async Task<byte[]> WriteAsync(ContainerPlatform platform)
    {
        var partition = Partition();
        using var output = new MemoryStream();
        var objects = new[]
        {
            SifDataObject.Definition(Definition),
            SifDataObject.Labels(Labels),
            SifDataObject.SquashfsRoot(new MemoryStream(partition), partition.Length, platform),
        };
        var written = await SifWriter.WriteAsync(output, Id, Time, objects, Cancel);
        Assert.Equal(output.Length, written);
        Assert.Equal(SifWriter.LengthOf(objects), written);
        return output.ToArray();
    }

    private static string Ascii(byte[] bytes, int offset, int length) => Encoding.ASCII.GetString(bytes, offset, length);
    private static long I64(byte[] bytes, int offset) => BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(offset));
    private static int I32(byte[] bytes, int offset) => BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset));
    private static uint U32(byte[] bytes, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset));

    [Theory]
    [InlineData("linux/amd64", "02")]
    [InlineData("linux/arm64", "04")]
    public async Task The_header_and_descriptors_sit_where_the_SIF_v1_layout_puts_them(string platform, string arch)
    {
        var sif = await WriteAsync(ContainerPlatform.Parse(platform));

        // Global header: 32-byte launch script, "SIF_MAGIC\0", "01\0", arch "NN\0", 16-byte uuid, then eight int64.
        Assert.Equal("#!/usr/bin/env run-singularity\n\0", Ascii(sif, 0, 32));
        Assert.Equal("SIF_MAGIC\0", Ascii(sif, 32, 10));
        Assert.Equal("01\0", Ascii(sif, 42, 3));
        Assert.Equal(arch + "\0", Ascii(sif, 45, 3));
        Assert.Equal(Convert.FromHexString("0b5e2d0c7a4f4c1e9d3a52f1c0a7e9b4"), sif[48..64]);
        Assert.Equal(Time.ToUnixTimeSeconds(), I64(sif, 64)); // ctime
        Assert.Equal(Time.ToUnixTimeSeconds(), I64(sif, 72)); // mtime
        Assert.Equal(45, I64(sif, 80));                       // free descriptors
        Assert.Equal(48, I64(sif, 88));                       // total descriptors
        Assert.Equal(4096, I64(sif, 96));                     // descriptors offset
        Assert.Equal(48 * 585, I64(sif, 104));                // descriptors size
        const int dataOffset = 4096 + (48 * 585);
        Assert.Equal(dataOffset, I64(sif, 112));
        Assert.Equal(sif.Length - dataOffset, I64(sif, 120));

        // Descriptors: 585 packed bytes each.
        var expected = new (int Type, byte[] Data)[] { (0x4001, Encoding.UTF8.GetBytes(Definition)), (0x4003, Labels), (0x4004, Partition()) };
        var previousEnd = (long)dataOffset;
        for (var i = 0; i < expected.Length; i++)
        {
            var d = 4096 + (i * 585);
            Assert.Equal(expected[i].Type, I32(sif, d));
            Assert.Equal(1, sif[d + 4]);                      // used
            Assert.Equal((uint)(i + 1), U32(sif, d + 5));     // id
            Assert.Equal(0xf0000001u, U32(sif, d + 9));       // group 1 with the group mask
            Assert.Equal(0u, U32(sif, d + 13));               // link
            var offset = I64(sif, d + 17);
            var size = I64(sif, d + 25);
            Assert.Equal(0, offset % 4096);
            Assert.Equal(expected[i].Data.Length, size);
            Assert.Equal(offset - previousEnd + size, I64(sif, d + 33)); // stored size counts the alignment padding
            Assert.Equal(Time.ToUnixTimeSeconds(), I64(sif, d + 41));
            Assert.Equal(expected[i].Data, sif[(int)offset..(int)(offset + size)]);
            previousEnd = offset + size;
        }
        Assert.Equal(sif.Length, previousEnd);
        var partition = 4096 + (2 * 585) + 201;               // extra: fstype int32, parttype int32, arch[3]
        Assert.Equal(1, I32(sif, partition));                 // squashfs
        Assert.Equal(2, I32(sif, partition + 4));             // primary system partition
        Assert.Equal(arch + "\0", Ascii(sif, partition + 8, 3));
        Assert.All(sif[(4096 + (3 * 585))..dataOffset], b => Assert.Equal(0, b)); // unused descriptors are zero
    }

    [Fact]
    public async Task The_parser_reads_back_what_the_writer_wrote_and_the_same_inputs_give_the_same_bytes()
    {
        var sif = await WriteAsync(ContainerPlatform.LinuxAmd64);
        Assert.Equal(sif, await WriteAsync(ContainerPlatform.LinuxAmd64));

        using var stream = new MemoryStream(sif);
        var file = SifFile.Parse(stream);
        Assert.Equal(Id, file.Header.Id);
        Assert.Equal(Time, file.Header.CreatedAt);
        Assert.Equal("02", file.Header.Architecture);
        Assert.Equal([SifDataType.Deffile, SifDataType.Labels, SifDataType.Partition], file.Descriptors.Select(d => d.DataType));
        Assert.Equal(Definition, Encoding.UTF8.GetString(SifFile.ReadObject(stream, file.Descriptors[0])));
        var primary = Assert.IsType<SifDescriptor>(file.PrimaryPartition);
        Assert.Equal(new SifPartition(SifFileSystemType.Squashfs, SifPartitionType.PrimarySystem, "02"), primary.Partition);
        using var copy = new MemoryStream();
        await SifFile.OpenObject(stream, primary).CopyToAsync(copy, Cancel);
        Assert.Equal(Partition(), copy.ToArray());
    }

    [Fact]
    public async Task A_partition_shorter_than_declared_is_refused_while_writing()
    {
        var objects = new[] { SifDataObject.SquashfsRoot(new MemoryStream(new byte[10]), 20, ContainerPlatform.LinuxAmd64) };
        var error = await Assert.ThrowsAsync<ArgumentException>(() => SifWriter.WriteAsync(Stream.Null, Id, Time, objects, Cancel));
        Assert.Contains("ended after 10 of its declared 20 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_header_is_refused()
    {
        var error = Assert.Throws<InvalidSifException>(() => SifFile.Parse(new MemoryStream(new byte[100])));
        Assert.Equal("not a SIF image: the file is 100 bytes, shorter than the 128-byte SIF header", error.Message);
    }

    [Fact]
    public async Task A_wrong_magic_is_refused()
    {
        var sif = await WriteAsync(ContainerPlatform.LinuxAmd64);
        Encoding.ASCII.GetBytes("NOT_MAGIC").CopyTo(sif, 32);
        var error = Assert.Throws<InvalidSifException>(() => SifFile.Parse(new MemoryStream(sif)));
        Assert.Equal("not a SIF image: the magic at offset 32 is 'NOT_MAGIC', not 'SIF_MAGIC'", error.Message);
    }

    [Fact]
    public async Task A_file_cut_inside_the_descriptor_table_is_refused()
    {
        var sif = await WriteAsync(ContainerPlatform.LinuxAmd64);
        var error = Assert.Throws<InvalidSifException>(() => SifFile.Parse(new MemoryStream(sif[..8000])));
        Assert.Contains("the descriptor table (offset 4096, 48 descriptors of 585 bytes) lies outside the file (8000 bytes)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_file_cut_inside_the_partition_is_refused()
    {
        var sif = await WriteAsync(ContainerPlatform.LinuxAmd64);
        var cut = sif[..(sif.Length - 100)];
        var error = Assert.Throws<InvalidSifException>(() => SifFile.Parse(new MemoryStream(cut)));
        Assert.Contains("corrupt SIF descriptor 2 (object 3, Partition)", error.Message, StringComparison.Ordinal);
        Assert.Contains($"lies outside the file ({cut.Length} bytes)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_descriptor_offset_past_the_end_is_refused()
    {
        var sif = await WriteAsync(ContainerPlatform.LinuxAmd64);
        BinaryPrimitives.WriteInt64LittleEndian(sif.AsSpan(4096 + 17), 1L << 40); // the definition's offset
        var error = Assert.Throws<InvalidSifException>(() => SifFile.Parse(new MemoryStream(sif)));
        Assert.Equal($"corrupt SIF descriptor 0 (object 1, Deffile): its data at offset {1L << 40}, {Definition.Length} bytes, lies outside the file ({sif.Length} bytes)", error.Message);
    }

    [Fact]
    public async Task An_unknown_version_is_refused()
    {
        var sif = await WriteAsync(ContainerPlatform.LinuxAmd64);
        Encoding.ASCII.GetBytes("02").CopyTo(sif, 42);
        var error = Assert.Throws<InvalidSifException>(() => SifFile.Parse(new MemoryStream(sif)));
        Assert.Equal("unsupported SIF version '02' (this reader knows version 01)", error.Message);
    }
}
