using Wave.Core.Names;

namespace Wave.Tests.Core;

public sealed class ImageReferenceTests
{
    private const string Hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private const string Sha = "sha256:" + Hex;

    public static TheoryData<string, string, string, string?, string?> Valid => new()
    {
        // input, registry, repository, tag, digest
        { "ubuntu", "docker.io", "library/ubuntu", "latest", null },
        { "ubuntu:22.04", "docker.io", "library/ubuntu", "22.04", null },
        { "user/repo", "docker.io", "user/repo", "latest", null },
        { "user/repo:v1", "docker.io", "user/repo", "v1", null },
        { "docker.io/ubuntu", "docker.io", "library/ubuntu", "latest", null },
        { "docker.io/library/ubuntu:latest", "docker.io", "library/ubuntu", "latest", null },
        { "index.docker.io/ubuntu", "docker.io", "library/ubuntu", "latest", null },
        { "registry-1.docker.io/bitnami/redis:7", "docker.io", "bitnami/redis", "7", null },
        { "quay.io/org/img", "quay.io", "org/img", "latest", null },
        { "quay.io/biocontainers/samtools:1.17--h00cdaf9_0", "quay.io", "biocontainers/samtools", "1.17--h00cdaf9_0", null },
        { "localhost/img", "localhost", "img", "latest", null },
        { "localhost:5000/a/b:tag", "localhost:5000", "a/b", "tag", null },
        { "127.0.0.1:5000/x", "127.0.0.1:5000", "x", "latest", null },
        { "[::1]:5000/x:1", "[::1]:5000", "x", "1", null },
        { "[fe80::1]/x", "[fe80::1]", "x", "latest", null },
        { "ghcr.io/a/b/c/d/e:1.0", "ghcr.io", "a/b/c/d/e", "1.0", null },
        { "my-registry.example.com:443/team/app-server", "my-registry.example.com:443", "team/app-server", "latest", null },
        { "a.b/c__d/e-f/g.h/i---j", "a.b", "c__d/e-f/g.h/i---j", "latest", null },
        { "ubuntu@" + Sha, "docker.io", "library/ubuntu", null, Sha },
        { "ubuntu:22.04@" + Sha, "docker.io", "library/ubuntu", "22.04", Sha },
        { "localhost:5000/x@" + Sha, "localhost:5000", "x", null, Sha },
        { "quay.io/org/img@sha512:" + Hex + Hex, "quay.io", "org/img", null, "sha512:" + Hex + Hex },
        { "ubuntu:_Under_Score.-", "docker.io", "library/ubuntu", "_Under_Score.-", null },
        { "localhost:5000", "docker.io", "library/localhost", "5000", null }, // Docker reads the port as a tag
        { "ubuntu:" + new string('t', 128), "docker.io", "library/ubuntu", new string('t', 128), null },
        { "DOCKER.IO/ubuntu", "docker.io", "library/ubuntu", "latest", null },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void ParsesAndNormalisesValidNames(string input, string registry, string repository, string? tag, string? digest)
    {
        Assert.True(ImageReference.TryParse(input, out var reference, out var error), error);
        Assert.Equal(new ImageReference(registry, repository, tag, digest), reference);
        Assert.Equal(reference, ImageReference.Parse(reference.ToString()));
    }

    [Fact]
    public void ReferenceIsTheDigestWhenPinnedAndTheTagOtherwise()
    {
        Assert.Equal("22.04", ImageReference.Parse("ubuntu:22.04").Reference);
        Assert.Equal(Sha, ImageReference.Parse("ubuntu:22.04@" + Sha).Reference);
        Assert.Equal(Sha, ImageReference.Parse("ubuntu@" + Sha).Reference);
        Assert.Null(ImageReference.Parse("ubuntu@" + Sha).Tag);
    }

    [Theory]
    [InlineData("ubuntu", "docker.io/library/ubuntu:latest")]
    [InlineData("quay.io/org/img:1", "quay.io/org/img:1")]
    [InlineData("localhost:5000/a@" + Sha, "localhost:5000/a@" + Sha)]
    [InlineData("index.docker.io/u/r:t@" + Sha, "docker.io/u/r:t@" + Sha)]
    public void ToStringIsCanonical(string input, string canonical) =>
        Assert.Equal(canonical, ImageReference.Parse(input).ToString());

    public static TheoryData<string?, string> Invalid => new()
    {
        // input, a fragment the reason must contain
        { null, "empty" },
        { "", "empty" },
        { "Ubuntu", "lowercase" },
        { "MyUser/repo", "lowercase" },
        { "quay.io/Org/img", "lowercase" },
        { "ubuntu!", "invalid character '!'" },
        { "ub untu", "invalid character" },
        { " ubuntu", "invalid character" },
        { "ubuntu\n", "invalid character" },
        { "ubüntu", "invalid character 'ü'" },
        { "ubuntu:", "tag is empty" },
        { "ubuntu:" + new string('t', 129), "longer than 128" },
        { "ubuntu:-tag", "must start with" },
        { "ubuntu:.tag", "must start with" },
        { "ubuntu:ta+g", "invalid character '+' in tag" },
        { "ubuntu@", "invalid digest" },
        { "ubuntu@" + Hex, "invalid digest" },
        { "ubuntu@md5:" + Hex, "unsupported digest algorithm 'md5'" },
        { "ubuntu@SHA256:" + Hex, "unsupported digest algorithm" },
        { "ubuntu@sha256:" + Hex[..63], "expected 64 hex digits, got 63" },
        { "ubuntu@sha256:" + Hex + "0", "expected 64 hex digits, got 65" },
        { "ubuntu@sha256:" + Hex.ToUpperInvariant(), "lower-case hexadecimal" },
        { "ubuntu@sha256:" + Hex[..63] + "g", "lower-case hexadecimal" },
        { "ubuntu@" + Sha + "@" + Sha, "hexadecimal" },
        { "quay.io/" + string.Join('/', Enumerable.Repeat("abcdefghi", 25)), "longer than 255" },
        { new string('a', 247), "longer than 255" }, // docker.io/library/ + 247 = 265
        { "-ubuntu", "must start and end" },
        { "ubuntu-", "must start and end" },
        { "ubuntu_", "must start and end" },
        { "a..b", "invalid separator '..'" },
        { "a___b", "invalid separator '___'" },
        { "a._b", "invalid separator '._'" },
        { "user//repo", "empty path component" },
        { "quay.io/", "empty path component" },
        { "quay.io/org/", "empty path component" },
        { "/ubuntu", "empty path component" },
        { "localhost:0/x", "invalid port" },
        { "localhost:65536/x", "invalid port" },
        { "localhost:/x", "invalid port" },
        { "localhost:50a/x", "invalid port" },
        { "localhost:1234567/x", "invalid port" },
        { "quay..io/x", "empty label" },
        { "-quay.io/x", "must not start or end with '-'" },
        { "qu_ay.io/x", "invalid character '_' in registry host" },
        { "[::1/x", "unterminated IPv6" },
        { "[zz::1]:5000/x", "not an IPv6 address" },
        { ":tag", "repository name is empty" },
        { "@" + Sha, "repository name is empty" },
        { Hex, "64-character hexadecimal" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void RejectsInvalidNamesWithAReason(string? input, string reasonFragment)
    {
        Assert.False(ImageReference.TryParse(input, out var reference, out var error));
        Assert.Null(reference);
        Assert.Contains(reasonFragment, error, StringComparison.Ordinal);

        if (input is not null)
        {
            var exception = Assert.Throws<InvalidImageReferenceException>(() => ImageReference.Parse(input));
            Assert.Equal(error, exception.Reason);
            Assert.Contains(error, exception.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void AcceptsANameOfExactlyTheMaximumLength()
    {
        // "quay.io/" is 8 characters: 247 more make 255.
        var name = "quay.io/" + new string('a', 247);
        Assert.True(ImageReference.TryParse(name, out _, out var error), error);
        Assert.False(ImageReference.TryParse(name + "a", out _, out _));
    }
}
