using Wave.Core.Augmentation;
using Wave.Core.Builds;

using static Wave.Tests.Builds.Domain.BuildFields;

namespace Wave.Tests.Builds.Domain;

/// <summary>The container id: pinned values (so that it never changes by accident), stability and sensitivity.</summary>
public sealed class ContainerIdTests
{
    private static readonly BuildRequestFields DockerfileRequest = Dockerfile("FROM busybox\nRUN echo hello > /hello.txt\n");

    [Fact]
    public void EncodingIsPinned()
    {
        // = sha256sum of the documented encoding (checked with coreutils: printf ... | sha256sum | cut -c1-16).
        var digests = new Dictionary<string, string> { ["conda.yml"] = "sha256:" + new string('0', 64) };
        Assert.Equal("e21e2ee0acb4847d", ContainerId.Compute("FROM busybox\n", "linux/amd64", "localhost:5000/wave/b", "docker", digests));
        Assert.Equal(ExpectedByHand(), ContainerId.Compute("FROM busybox\n", "linux/amd64", "localhost:5000/wave/b", "docker", digests));
    }

    // The documented encoding, written out independently of the implementation.
    private static string ExpectedByHand()
    {
        var context = "conda.yml sha256:" + new string('0', 64);
        var text = "wave-build-id 1:1\n"
            + "dockerfile 13:FROM busybox\n\n"
            + "platform 11:linux/amd64\n"
            + "repository 21:localhost:5000/wave/b\n"
            + "format 6:docker\n"
            + $"context {context.Length}:{context}\n";
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)))[..16];
    }

    // These also pin the templates and the default images: changing a default renames the builds it shapes.
    [Fact]
    public void GoldenIdsOfRequests()
    {
        Assert.Equal("1898d8e95ad31299", Plan(DockerfileRequest).ContainerId);
        // conda/micromamba:v2 is the default template of packages builds (it was v1: e40bf6d6c282ad44, still that below).
        Assert.Equal("30f87fb7db4e7403", Plan(Conda("bioconda::salmon=1.10.3", "bwa=0.7.17")).ContainerId);
        Assert.Equal("e40bf6d6c282ad44", Plan(Conda("bioconda::salmon=1.10.3", "bwa=0.7.17") with { BuildTemplate = "conda/micromamba:v1" }).ContainerId);
        Assert.Equal("e90379dc3d012df3", Plan(new BuildRequestFields { SpackFile = Base64("spack:\n  specs: [zlib]\n") }).ContainerId);
        Assert.Equal("2726856827445824", Plan(BuildRequestValidationTests.Freeze(new ContainerConfig
        {
            Layers = [BuildRequestValidationTests.Layer("https://layers.example.com/extra.tar.gz")],
            Cmd = ["cat", "/wave/hello.txt"],
        })).ContainerId);
    }

    [Fact]
    public void IdenticalRequestsGiveTheSameId()
    {
        Assert.Equal(Plan(DockerfileRequest).ContainerId, Plan(DockerfileRequest with { }).ContainerId);
        Assert.Equal(Plan(Conda("salmon", "bwa")).ContainerId, Plan(Conda("salmon", "bwa")).ContainerId);
        var (_, layer) = BuildRequestValidationTests.InlineLayer("same");
        var freeze = BuildRequestValidationTests.Freeze(new ContainerConfig { Layers = [layer] });
        Assert.Equal(Plan(freeze).ContainerId, Plan(freeze).ContainerId);
    }

    [Fact]
    public void EquivalentSpellingsGiveTheSameId()
    {
        var id = Plan(DockerfileRequest with { ContainerPlatform = "linux/arm64", BuildRepository = "docker.io/me/builds" }).ContainerId;
        Assert.Equal(id, Plan(DockerfileRequest with { ContainerPlatform = "arm64", BuildRepository = "me/builds" }).ContainerId);
        Assert.Equal(id, Plan(DockerfileRequest with { ContainerPlatform = "linux/arm64/v8", BuildRepository = "index.docker.io/me/builds" }).ContainerId);
    }

    [Fact]
    public void WhatDoesNotShapeTheImageDoesNotChangeTheId()
    {
        var id = Plan(DockerfileRequest).ContainerId;
        Assert.Equal(id, Plan(DockerfileRequest with { CacheRepository = "localhost:5000/cache" }).ContainerId);
        Assert.Equal(id, Plan(DockerfileRequest with { NameStrategy = "none" }).ContainerId);
        Assert.Equal(id, Plan(DockerfileRequest with { ContainerConfig = new ContainerConfig { Cmd = ["x"] } }).ContainerId);
    }

    public static TheoryData<string, BuildRequestFields, BuildRequestFields> Variations()
    {
        var (_, layerA) = BuildRequestValidationTests.InlineLayer("a");
        var (_, layerB) = BuildRequestValidationTests.InlineLayer("b");
        var remote = BuildRequestValidationTests.Layer("https://layers.example.com/l.tar.gz");
        var freeze = BuildRequestValidationTests.Freeze(new ContainerConfig { Layers = [layerA], Cmd = ["a"] });
        return new()
        {
            { "dockerfile text", DockerfileRequest, Dockerfile("FROM busybox\nRUN echo hello  > /hello.txt\n") },
            { "platform", DockerfileRequest, DockerfileRequest with { ContainerPlatform = "linux/arm64" } },
            { "build repository", DockerfileRequest, DockerfileRequest with { BuildRepository = "localhost:5000/other" } },
            { "conda file next to a dockerfile", DockerfileRequest with { CondaFile = Base64("dependencies:\n- a\n") }, DockerfileRequest with { CondaFile = Base64("dependencies:\n- b\n") } },
            { "spack file next to a dockerfile", DockerfileRequest with { SpackFile = Base64("spack: {}\n") }, DockerfileRequest with { SpackFile = Base64("spack:  {}\n") } },
            { "conda entries", Conda("salmon"), Conda("salmon=1.10.3") },
            { "conda entry order", Conda("salmon", "bwa"), Conda("bwa", "salmon") },
            { "conda channels", Conda("salmon"), Conda("salmon") with { Packages = Conda("salmon").Packages! with { Channels = ["bioconda"] } } },
            { "mamba image", Conda("salmon"), Conda("salmon") with { Packages = Conda("salmon").Packages! with { CondaOpts = new CondaOptsFields { MambaImage = "mambaorg/micromamba:2" } } } },
            { "base packages", Conda("salmon"), Conda("salmon") with { Packages = Conda("salmon").Packages! with { CondaOpts = new CondaOptsFields { BasePackages = "" } } } },
            { "conda commands", Conda("salmon"), Conda("salmon") with { Packages = Conda("salmon").Packages! with { CondaOpts = new CondaOptsFields { Commands = ["RUN true"] } } } },
            { "spack recipe", new BuildRequestFields { SpackFile = Base64("spack:\n  specs: [zlib]\n") }, new BuildRequestFields { SpackFile = Base64("spack:\n  specs: [bzip2]\n") } },
            { "frozen layer bytes", freeze, freeze with { ContainerConfig = freeze.ContainerConfig! with { Layers = [layerB] } } },
            { "frozen remote layer digest", freeze with { ContainerConfig = new ContainerConfig { Layers = [remote] } }, freeze with { ContainerConfig = new ContainerConfig { Layers = [remote with { GzipDigest = "sha256:" + new string('c', 64) }] } } },
            { "frozen cmd", freeze, freeze with { ContainerConfig = freeze.ContainerConfig! with { Cmd = ["b"] } } },
            { "frozen env", freeze, freeze with { ContainerConfig = freeze.ContainerConfig! with { Env = ["A=1"] } } },
            { "frozen image", freeze, freeze with { ContainerImage = "localhost:5000/library/busybox:1.37" } },
            { "freezing the config at all", DockerfileRequest with { ContainerConfig = new ContainerConfig { Cmd = ["x"] }, BuildRepository = Repository }, DockerfileRequest with { ContainerConfig = new ContainerConfig { Cmd = ["x"] }, BuildRepository = Repository, Freeze = true } },
        };
    }

    [Theory]
    [MemberData(nameof(Variations))]
    public void ChangingAnythingThatShapesTheImageChangesTheId(string what, BuildRequestFields one, BuildRequestFields other)
    {
        var first = Plan(one).ContainerId;
        var second = Plan(other).ContainerId;
        Assert.True(first != second, $"changing the {what} kept the id {first}");
        Assert.True(ContainerId.IsValid(first) && ContainerId.IsValid(second));
    }

    [Theory]
    [InlineData("0123456789abcdef", true)]
    [InlineData("0123456789ABCDEF", false)]
    [InlineData("0123456789abcde", false)]
    [InlineData("0123456789abcdefa", false)]
    [InlineData("0123456789abcdeg", false)]
    [InlineData(null, false)]
    public void ValidIdsAreSixteenLowerCaseHexDigits(string? id, bool valid) => Assert.Equal(valid, ContainerId.IsValid(id));
}
