using Wave.Core.Augmentation;
using Wave.Core.Builds;

using static Wave.Tests.Builds.Domain.BuildFields;

namespace Wave.Tests.Builds.Domain;

/// <summary>The generated Dockerfiles and context files, text for text.</summary>
public sealed class TemplateGoldenTests
{
    [Fact]
    public void CondaPackages()
    {
        var plan = Plan(Conda("bioconda::salmon=1.10.3", "bwa=0.7.17", "numpy>=1.26") with { NameStrategy = "none" });
        Assert.Equal(BuildKind.Conda, plan.Kind);
        Golden.AssertMatches("conda-packages.Dockerfile.txt", plan.Dockerfile);
        Golden.AssertMatches("conda-packages.conda.yml.txt", plan.ContextFiles["conda.yml"]);
        Assert.Single(plan.ContextFiles);
    }

    [Fact]
    public void CondaPackagesWithOptions()
    {
        var fields = Conda("samtools=1.19") with
        {
            Packages = Conda("samtools=1.19").Packages! with
            {
                CondaOpts = new CondaOptsFields
                {
                    MambaImage = "localhost:5000/mamba/micromamba:stand-in",
                    BasePackages = "conda-forge::procps-ng conda-forge::tini>=0.19",
                    Commands = ["RUN echo built > /built.txt", "USER $MAMBA_USER"],
                },
            },
        };
        Golden.AssertMatches("conda-options.Dockerfile.txt", Plan(fields).Dockerfile);
    }

    [Fact]
    public void CondaPackagesWithoutBasePackages()
    {
        var fields = Conda("bwa") with { Packages = Conda("bwa").Packages! with { CondaOpts = new CondaOptsFields { BasePackages = "" } } };
        var dockerfile = Plan(fields).Dockerfile;
        Assert.DoesNotContain("micromamba install -y -n base conda-forge", dockerfile, StringComparison.Ordinal);
        Assert.Contains("micromamba install -y -n base -f /tmp/conda.yml \\\n    && micromamba env export", dockerfile, StringComparison.Ordinal);
    }

    [Fact]
    public void CondaFile()
    {
        const string environment = "name: rnaseq\nchannels:\n  - bioconda\n  - conda-forge\ndependencies:\n  - salmon=1.10.3\n  - fastqc=0.12.1\n  - pip:\n    - multiqc==1.21\n";
        var plan = Plan(new BuildRequestFields { CondaFile = Base64(environment) });
        Assert.Equal(BuildKind.Conda, plan.Kind);
        Golden.AssertMatches("conda-file.Dockerfile.txt", plan.Dockerfile);
        Assert.Equal(environment, plan.ContextFiles["conda.yml"]);
        Assert.Equal($"{Repository}:salmon-1.10.3_fastqc-0.12.1--{plan.ContainerId}", plan.TargetImage);
    }

    [Fact]
    public void PackagesEnvironmentGetsTheRequestChannelsWhenItHasNone()
    {
        var fields = new BuildRequestFields { Packages = new PackagesFields { Type = "CONDA", Environment = Base64("dependencies:\n- bwa\n"), Channels = ["bioconda"] } };
        Assert.Equal("channels:\n- bioconda\ndependencies:\n- bwa\n", Plan(fields).ContextFiles["conda.yml"]);
        var withOwn = fields with { Packages = fields.Packages! with { Environment = Base64("channels:\n- conda-forge\ndependencies:\n- bwa") } };
        Assert.Equal("channels:\n- conda-forge\ndependencies:\n- bwa\n", Plan(withOwn).ContextFiles["conda.yml"]);
    }

    [Fact]
    public void CondaEntriesThatYamlCouldMisreadAreQuoted()
    {
        var plan = Plan(Conda("numpy >=1.26", "python=3.12", "*odd"));
        Assert.Equal("channels:\n- conda-forge\n- bioconda\ndependencies:\n- 'numpy >=1.26'\n- python=3.12\n- '*odd'\n", plan.ContextFiles["conda.yml"]);
    }

    [Fact]
    public void DefaultChannelsApplyWhenTheRequestNamesNone()
    {
        var plan = Plan(new BuildRequestFields { Packages = new PackagesFields { Type = "conda", Entries = ["bwa"] } });
        Assert.Equal("channels:\n- conda-forge\n- bioconda\ndependencies:\n- bwa\n", plan.ContextFiles["conda.yml"]);
    }

    [Fact]
    public void SpackFile()
    {
        const string spack = "spack:\n  specs: [zlib@1.3, bzip2]\n  concretizer:\n    unify: true\n";
        var plan = Plan(new BuildRequestFields { SpackFile = Base64(spack) });
        Assert.Equal(BuildKind.Spack, plan.Kind);
        Golden.AssertMatches("spack-file.Dockerfile.txt", plan.Dockerfile);
        Assert.Equal(spack, plan.ContextFiles["spack.yaml"]);
    }

    [Fact]
    public void FreezeOfImageWithLayersAndConfig()
    {
        var (gzip, inline) = BuildRequestValidationTests.InlineLayer("frozen");
        var remote = BuildRequestValidationTests.Layer("https://layers.example.com/extra.tar.gz");
        var fields = BuildRequestValidationTests.Freeze(new ContainerConfig
        {
            Layers = [inline, remote],
            WorkingDir = "/work dir",
            Env = ["GREETING=hello \"world\"", "PRICE=$5\\each", "EMPTY="],
            Entrypoint = ["/bin/sh", "-c"],
            Cmd = ["echo \"$GREETING\"", "line\nbreak"],
        });
        var plan = Plan(fields);
        Assert.Equal(BuildKind.Freeze, plan.Kind);
        Assert.True(plan.Freeze);
        Golden.AssertMatches("freeze-image-layers.Dockerfile.txt", plan.Dockerfile);
        Assert.Empty(plan.ContextFiles);
        Assert.Equal(gzip, plan.BinaryContextFiles["layer-0.tar.gz"]);
        var fetch = Assert.Single(plan.RemoteLayers);
        Assert.Equal(new RemoteLayer("layer-1.tar.gz", new Uri("https://layers.example.com/extra.tar.gz"), remote.GzipDigest!, remote.GzipSize), fetch);
    }

    [Fact]
    public void FreezeOfImageWithoutConfigIsJustFrom() =>
        Assert.Equal("FROM localhost:5000/library/busybox:1.36\n", Plan(BuildRequestValidationTests.Freeze(new ContainerConfig())).Dockerfile);

    [Fact]
    public void FreezeOfADockerfileAppendsTheConfig()
    {
        var fields = Dockerfile("FROM busybox\nRUN echo hi > /hi") with { Freeze = true, BuildRepository = Repository, ContainerConfig = new ContainerConfig { Cmd = ["cat", "/hi"] } };
        Assert.Equal("FROM busybox\nRUN echo hi > /hi\nCMD [\"cat\",\"/hi\"]\n", Plan(fields).Dockerfile);
    }

    [Fact]
    public void ConfigIsNotBuiltInWithoutFreeze()
    {
        var fields = Dockerfile("FROM busybox\n") with { ContainerConfig = new ContainerConfig { Cmd = ["cat", "/hi"] } };
        Assert.Equal("FROM busybox\n", Plan(fields).Dockerfile);
    }

    [Fact]
    public void DockerfileWithCondaFileCarriesItInTheContext()
    {
        var plan = Plan(Dockerfile("FROM mambaorg/micromamba\nCOPY conda.yml /tmp/\n") with { CondaFile = Base64("dependencies:\n- bwa=0.7.17\n") });
        Assert.Equal(BuildKind.Dockerfile, plan.Kind);
        Assert.Equal("dependencies:\n- bwa=0.7.17\n", plan.ContextFiles["conda.yml"]);
        Assert.Equal($"{Repository}:bwa-0.7.17--{plan.ContainerId}", plan.TargetImage);
    }

    [Fact]
    public void JobCarriesThePlan()
    {
        var (_, inline) = BuildRequestValidationTests.InlineLayer("job");
        var plan = Plan(BuildRequestValidationTests.Freeze(new ContainerConfig { Layers = [inline, BuildRequestValidationTests.Layer("https://x.example/l.tar.gz")] }) with { ContainerPlatform = "arm64" });
        var job = plan.ToJob(2, DateTimeOffset.UnixEpoch);
        Assert.Equal($"bd-{plan.ContainerId}_2", job.BuildId);
        Assert.Equal(plan.TargetImage, job.TargetImage);
        Assert.Equal("linux/arm64", job.Platform);
        Assert.Equal(plan.Dockerfile, job.Dockerfile);
        Assert.Equal(["layer-0.tar.gz"], job.BinaryContextFiles.Keys);
        var remote = Assert.Single(job.RemoteLayers);
        Assert.Equal("layer-1.tar.gz", remote.Path);
        Assert.Equal(new Uri("https://x.example/l.tar.gz"), remote.Location);
        Assert.Equal(TimeSpan.FromSeconds(900), job.Timeout);
        Assert.Equal("docker", job.Format);
    }
}
