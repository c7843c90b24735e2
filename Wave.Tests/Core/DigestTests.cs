using System.Text;

using Wave.Core.Digests;

namespace Wave.Tests.Core;

public sealed class DigestTests
{
    // sha256("hello") and sha256(""), well-known values.
    private const string Hello = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    private const string Empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    [Fact]
    public void Sha256IsLowerCaseHexWithThePrefix()
    {
        Assert.Equal(Hello, Digest.Sha256("hello"u8));
        Assert.Equal(Empty, Digest.Sha256([]));
    }

    [Fact]
    public async Task Sha256AsyncMatchesTheOneShotHashOverSeveralBuffers()
    {
        var content = new byte[300_001];
        new Random(7).NextBytes(content);
        using var stream = new MemoryStream(content);
        Assert.Equal(Digest.Sha256(content), await Digest.Sha256Async(stream, TestContext.Current.CancellationToken));

        using var hello = new MemoryStream(Encoding.ASCII.GetBytes("hello"));
        Assert.Equal(Hello, await Digest.Sha256Async(hello, TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData(Hello, true)]
    [InlineData(Empty, true)]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData("sha256:", false)]
    [InlineData("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", false)]
    [InlineData("sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824", false)]
    [InlineData("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982", false)]
    [InlineData("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b98245", false)]
    [InlineData("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982g", false)]
    [InlineData("sha512:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", false)]
    [InlineData("sha256:../../etc/passwd", false)]
    public void IsValidAcceptsOnlyLowerCaseSha256(string? digest, bool valid) => Assert.Equal(valid, Digest.IsValid(digest));

    [Theory]
    [InlineData(Hello, true)]
    [InlineData("sha512:" + "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", true)]
    [InlineData("sha384:" + "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", true)]
    [InlineData("sha512:" + "00112233445566778899aabbccddeeff", false)]
    [InlineData("md5:00112233445566778899aabbccddeeff", false)]
    [InlineData(":", false)]
    [InlineData(null, false)]
    public void IsWellFormedAcceptsTheAlgorithmsRegistriesServe(string? digest, bool valid) => Assert.Equal(valid, Digest.IsWellFormed(digest));
}
