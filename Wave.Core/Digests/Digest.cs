namespace Wave.Core.Digests;

/// <summary>OCI content digests (<c>sha256:&lt;64 hex&gt;</c>).</summary>
public static class Digest
{
    public static string Sha256(ReadOnlySpan<byte> content) => throw new NotImplementedException();

    public static Task<string> Sha256Async(Stream content, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>True for a well-formed sha256 digest with lower-case hex.</summary>
    public static bool IsValid(string? digest) => throw new NotImplementedException();
}
