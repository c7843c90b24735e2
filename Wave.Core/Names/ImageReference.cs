using System.Diagnostics.CodeAnalysis;

namespace Wave.Core.Names;

/// <summary>
/// A container image name, normalised the way Docker normalises it:
/// <c>ubuntu</c> is <c>docker.io/library/ubuntu:latest</c>.
/// </summary>
public sealed record ImageReference(string Registry, string Repository, string? Tag, string? Digest)
{
    public const string DockerHub = "docker.io";

    /// <summary>The reference a registry is asked for: the digest when pinned, otherwise the tag.</summary>
    public string Reference => Digest ?? Tag ?? "latest";

    public static ImageReference Parse(string name) =>
        TryParse(name, out var reference, out var error) ? reference : throw new InvalidImageReferenceException(name, error);

    public static bool TryParse(string? name, [NotNullWhen(true)] out ImageReference? reference, [NotNullWhen(false)] out string? error)
    {
        throw new NotImplementedException();
    }

    /// <summary>Canonical form: <c>registry/repository[:tag][@digest]</c>.</summary>
    public override string ToString() => throw new NotImplementedException();
}

public sealed class InvalidImageReferenceException(string name, string reason)
    : FormatException($"invalid image name '{name}': {reason}")
{
    public string Reason { get; } = reason;
}
