using System.Buffers;
using System.Text;

using Wave.ServiceDefaults.Redis;

namespace Wave.Tests.ServiceDefaults.Redis;

public sealed class RespTests
{
    [Fact]
    public void A_command_is_an_array_of_bulk_strings()
    {
        var wire = Resp.EncodeCommand(["SET", "key", new byte[] { 0, 13, 10 }, 42L, -7]);

        Assert.Equal("*5\r\n$3\r\nSET\r\n$3\r\nkey\r\n$3\r\n\0\r\n\r\n$2\r\n42\r\n$2\r\n-7\r\n", Encoding.Latin1.GetString(wire));
    }

    [Fact]
    public void Arguments_of_other_types_are_refused()
    {
        Assert.Throws<ArgumentException>(() => Resp.EncodeCommand(["SET", "k", DateTime.UnixEpoch]));
        Assert.Throws<ArgumentException>(() => Resp.EncodeCommand([]));
    }

    [Theory]
    [InlineData("+OK\r\n", RedisReplyKind.SimpleString, "OK")]
    [InlineData("-ERR wrong\r\n", RedisReplyKind.Error, "ERR wrong")]
    [InlineData(":-12\r\n", RedisReplyKind.Integer, "-12")]
    [InlineData("$5\r\nhe\r\no\r\n", RedisReplyKind.BulkString, "he\r\no")]
    [InlineData("$0\r\n\r\n", RedisReplyKind.BulkString, "")]
    [InlineData("$-1\r\n", RedisReplyKind.Null, null)]
    [InlineData("*-1\r\n", RedisReplyKind.Null, null)]
    public void Scalar_replies(string wire, RedisReplyKind kind, string? text)
    {
        var reply = ReadAll(Encoding.UTF8.GetBytes(wire)).Single();

        Assert.Equal(kind, reply.Kind);
        Assert.Equal(text, reply.AsString());
    }

    [Fact]
    public void Nested_arrays()
    {
        var reply = ReadAll("*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+x\r\n"u8.ToArray()).Single();

        var items = reply.AsArray();
        Assert.Equal(1, items[0].AsInt64());
        Assert.Equal("a", items[1].AsArray()[0].AsString());
        Assert.True(items[1].AsArray()[1].IsNull);
        Assert.Equal("x", items[2].AsString());
    }

    [Fact]
    public void Replies_split_anywhere_across_segments_parse_once_complete()
    {
        var wire = "+OK\r\n$11\r\nhello world\r\n*2\r\n:7\r\n$2\r\nab\r\n"u8.ToArray();
        for (var split = 1; split < wire.Length; split++)
        {
            var replies = ReadAll(wire[..split], wire[split..]);

            Assert.Equal(["OK", "hello world"], replies.Take(2).Select(r => r.AsString()));
            Assert.Equal(7, replies[2].AsArray()[0].AsInt64());
        }
    }

    [Fact]
    public void An_incomplete_reply_leaves_the_reader_where_it_was()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>("*2\r\n:1\r\n$5\r\nabc"u8.ToArray()));

        Assert.False(Resp.TryReadReply(ref reader, out _));
        Assert.Equal(0, reader.Consumed);
    }

    [Fact]
    public void Garbage_is_a_protocol_error()
    {
        Assert.Throws<RedisProtocolException>(() => ReadAll("?what\r\n"u8.ToArray()));
        Assert.Throws<RedisProtocolException>(() => ReadAll(":12x\r\n"u8.ToArray()));
    }

    private static List<RedisReply> ReadAll(params byte[][] segments)
    {
        var sequence = Segments(segments);
        var reader = new SequenceReader<byte>(sequence);
        var replies = new List<RedisReply>();
        while (Resp.TryReadReply(ref reader, out var reply))
        {
            replies.Add(reply);
        }
        Assert.Equal(sequence.Length, reader.Consumed);
        return replies;
    }

    private static ReadOnlySequence<byte> Segments(byte[][] parts)
    {
        if (parts.Length == 1)
        {
            return new ReadOnlySequence<byte>(parts[0]);
        }
        var first = new Segment(parts[0], 0);
        var last = first;
        foreach (var part in parts.Skip(1))
        {
            last = last.Append(part);
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
