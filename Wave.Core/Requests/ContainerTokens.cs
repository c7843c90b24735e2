using System.Security.Cryptography;

namespace Wave.Core.Requests;

/// <summary>Container tokens: 96 random bits as 24 lower-case hex characters, unguessable and safe in an image name.</summary>
public static class ContainerTokens
{
    public const int Length = 24;

    public static string New() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(Length / 2));

    public static bool IsWellFormed(string? token) =>
        token is { Length: Length } && token.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');
}
