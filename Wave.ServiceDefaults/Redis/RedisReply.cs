using System.Globalization;
using System.Text;

namespace Wave.ServiceDefaults.Redis;

public enum RedisReplyKind
{
    SimpleString,
    Error,
    Integer,
    BulkString,
    Array,

    /// <summary>A null bulk string or null array: "no such key".</summary>
    Null,
}

/// <summary>One RESP2 reply, immutable. Accessors convert the way Redis itself does (a bulk "42" is the integer 42).</summary>
public sealed class RedisReply
{
    public static readonly RedisReply Null = new(RedisReplyKind.Null, 0, null, null, null);

    private readonly long _integer;
    private readonly string? _text;
    private readonly byte[]? _bytes;
    private readonly IReadOnlyList<RedisReply>? _elements;

    private RedisReply(RedisReplyKind kind, long integer, string? text, byte[]? bytes, IReadOnlyList<RedisReply>? elements)
    {
        Kind = kind;
        _integer = integer;
        _text = text;
        _bytes = bytes;
        _elements = elements;
    }

    public RedisReplyKind Kind { get; }

    public bool IsNull => Kind == RedisReplyKind.Null;

    public static RedisReply Simple(string text) => new(RedisReplyKind.SimpleString, 0, text, null, null);
    public static RedisReply Error(string text) => new(RedisReplyKind.Error, 0, text, null, null);
    public static RedisReply Integer(long value) => new(RedisReplyKind.Integer, value, null, null, null);
    public static RedisReply Bulk(byte[] bytes) => new(RedisReplyKind.BulkString, 0, null, bytes, null);
    public static RedisReply Array(IReadOnlyList<RedisReply> elements) => new(RedisReplyKind.Array, 0, null, null, elements);

    public byte[]? AsBytes() => Kind switch
    {
        RedisReplyKind.BulkString => _bytes,
        RedisReplyKind.SimpleString or RedisReplyKind.Error => Encoding.UTF8.GetBytes(_text!),
        RedisReplyKind.Integer => Encoding.ASCII.GetBytes(_integer.ToString(CultureInfo.InvariantCulture)),
        RedisReplyKind.Null => null,
        _ => throw new InvalidCastException($"a {Kind} reply is not a string"),
    };

    public string? AsString() => Kind switch
    {
        RedisReplyKind.SimpleString or RedisReplyKind.Error => _text,
        RedisReplyKind.BulkString => Encoding.UTF8.GetString(_bytes!),
        RedisReplyKind.Integer => _integer.ToString(CultureInfo.InvariantCulture),
        RedisReplyKind.Null => null,
        _ => throw new InvalidCastException($"a {Kind} reply is not a string"),
    };

    public long AsInt64() => Kind switch
    {
        RedisReplyKind.Integer => _integer,
        RedisReplyKind.BulkString or RedisReplyKind.SimpleString when long.TryParse(AsString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed) => parsed,
        _ => throw new InvalidCastException($"a {Kind} reply is not an integer"),
    };

    public IReadOnlyList<RedisReply> AsArray() => Kind switch
    {
        RedisReplyKind.Array => _elements!,
        RedisReplyKind.Null => [],
        _ => throw new InvalidCastException($"a {Kind} reply is not an array"),
    };

    public override string ToString() => Kind switch
    {
        RedisReplyKind.Null => "(nil)",
        RedisReplyKind.Integer => string.Create(CultureInfo.InvariantCulture, $"(integer) {_integer}"),
        RedisReplyKind.Error => $"(error) {_text}",
        RedisReplyKind.Array => $"(array of {_elements!.Count})",
        RedisReplyKind.BulkString => $"(bulk of {_bytes!.Length} bytes)",
        _ => _text!,
    };
}
