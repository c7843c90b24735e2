using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Wave.ServiceDefaults.Redis;

/// <summary>RESP2, both directions, as pure functions over buffers: a command is an array of bulk strings.</summary>
public static class Resp
{
    private static ReadOnlySpan<byte> Crlf => "\r\n"u8;

    /// <summary>The wire form of one command. Arguments: string, byte[], ReadOnlyMemory&lt;byte&gt;, integers, double.</summary>
    public static byte[] EncodeCommand(IReadOnlyList<object> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        if (arguments.Count == 0)
        {
            throw new ArgumentException("a Redis command needs at least its name", nameof(arguments));
        }
        var buffer = new ArrayBufferWriter<byte>(64);
        WriteHeader(buffer, (byte)'*', arguments.Count);
        foreach (var argument in arguments)
        {
            var bytes = ToBytes(argument);
            WriteHeader(buffer, (byte)'$', bytes.Length);
            buffer.Write(bytes.Span);
            buffer.Write(Crlf);
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static ReadOnlyMemory<byte> ToBytes(object argument) => argument switch
    {
        string text => Encoding.UTF8.GetBytes(text),
        byte[] bytes => bytes,
        ReadOnlyMemory<byte> memory => memory,
        long or int or short or ulong or uint => Encoding.ASCII.GetBytes(Convert.ToString(argument, CultureInfo.InvariantCulture)!),
        double number => Encoding.ASCII.GetBytes(number.ToString("R", CultureInfo.InvariantCulture)),
        null => throw new ArgumentNullException(nameof(argument), "a Redis argument cannot be null"),
        _ => throw new ArgumentException($"a Redis argument cannot be a {argument.GetType().Name}", nameof(argument)),
    };

    private static void WriteHeader(IBufferWriter<byte> buffer, byte prefix, int count)
    {
        var span = buffer.GetSpan(16);
        span[0] = prefix;
        Utf8Formatter.TryFormat(count, span[1..], out var written);
        span[1 + written] = (byte)'\r';
        span[2 + written] = (byte)'\n';
        buffer.Advance(3 + written);
    }

    /// <summary>
    /// Reads one complete reply from the start of the buffer. False when the buffer holds only part of one
    /// (the caller reads more and tries again); the reader has then not moved.
    /// </summary>
    public static bool TryReadReply(ref SequenceReader<byte> reader, out RedisReply reply)
    {
        var attempt = reader;
        if (TryRead(ref attempt, depth: 0, out reply))
        {
            reader = attempt;
            return true;
        }
        return false;
    }

    private static bool TryRead(ref SequenceReader<byte> reader, int depth, out RedisReply reply)
    {
        reply = RedisReply.Null;
        if (!reader.TryRead(out var prefix) || !reader.TryReadTo(out ReadOnlySequence<byte> line, Crlf))
        {
            return false;
        }
        switch (prefix)
        {
            case (byte)'+':
                reply = RedisReply.Simple(Encoding.UTF8.GetString(line));
                return true;
            case (byte)'-':
                reply = RedisReply.Error(Encoding.UTF8.GetString(line));
                return true;
            case (byte)':':
                reply = RedisReply.Integer(ParseInteger(line));
                return true;
            case (byte)'$':
                {
                    var length = ParseInteger(line);
                    if (length < 0)
                    {
                        return true; // null bulk string
                    }
                    if (reader.Remaining < length + 2)
                    {
                        return false;
                    }
                    var bytes = reader.UnreadSequence.Slice(0, length).ToArray();
                    reader.Advance(length);
                    if (!reader.IsNext(Crlf, advancePast: true))
                    {
                        throw new RedisProtocolException("a bulk string does not end with CRLF");
                    }
                    reply = RedisReply.Bulk(bytes);
                    return true;
                }
            case (byte)'*':
                {
                    var count = ParseInteger(line);
                    if (count < 0)
                    {
                        return true; // null array
                    }
                    if (depth > 32)
                    {
                        throw new RedisProtocolException("replies nest deeper than 32 arrays");
                    }
                    var elements = new RedisReply[count];
                    for (var i = 0; i < count; i++)
                    {
                        if (!TryRead(ref reader, depth + 1, out elements[i]))
                        {
                            return false;
                        }
                    }
                    reply = RedisReply.Array(elements);
                    return true;
                }
            default:
                throw new RedisProtocolException($"unexpected reply type byte 0x{prefix:x2}");
        }
    }

    private static long ParseInteger(ReadOnlySequence<byte> line)
    {
        Span<byte> scratch = stackalloc byte[24];
        if (line.Length > scratch.Length)
        {
            throw new RedisProtocolException("an integer in a reply is too long");
        }
        line.CopyTo(scratch);
        var digits = scratch[..(int)line.Length];
        return Utf8Parser.TryParse(digits, out long value, out var consumed) && consumed == digits.Length
            ? value
            : throw new RedisProtocolException($"'{Encoding.ASCII.GetString(digits)}' is not an integer");
    }
}
