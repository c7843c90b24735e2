using Wave.Core.Augmentation;
using Wave.Core.Builds;

using static Wave.Tests.Builds.Domain.BuildFields;

namespace Wave.Tests.Builds.Domain;

/// <summary>The generated Dockerfiles and context files, text for text.</summary>
public sealed class TemplateGoldenTests
{
    [Fact]
    public void CondaPackagesGetTheMultiStageMicromambaV2TemplateByDefault()
    {
        var plan = Plan(Conda("bioconda::salmon=1.10.3", "bwa=0.7.17", "numpy>=1.26") with { NameStrategy = "none" });
        Assert.Equal(BuildKind.Conda, plan.Kind);
        Golden.AssertMatches("conda-micromamba-v2-packages.Dockerfile.txt", plan.Dockerfile);
        Golden.AssertMatches("conda-packages.conda.yml.txt", plan.ContextFiles["conda.yml"]);
        Assert.Single(plan.ContextFiles);
        Assert.Equal(plan.Dockerfile, Plan(Conda("bioconda::salmon=1.10.3", "bwa=0.7.17", "numpy>=1.26") with { NameStrategy = "none", BuildTemplate = "conda/micromamba:v2" }).Dockerfile);
    }

    [Fact]
    public void CondaPackagesWithTheMicromambaV1Template()
    {
        var plan = Plan(Conda("bioconda::salmon=1.10.3", "bwa=0.7.17", "numpy>=1.26") with { NameStrategy = "none", BuildTemplate = "conda/micromamba:v1" });
        Golden.AssertMatches("conda-micromamba-v1-packages.Dockerfile.txt", plan.Dockerfile);
        Golden.AssertMatches("conda-packages.conda.yml.txt", plan.ContextFiles["conda.yml"]);
    }

    [Fact]
    public void CondaPackagesWithOptionsAndTheV1Template()
    {
        var fields = Conda("samtools=1.19") with
        {
            BuildTemplate = "conda/micromamba:v1",
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
        Golden.AssertMatches("conda-micromamba-v1-options.Dockerfile.txt", Plan(fields).Dockerfile);
    }

    [Fact]
    public void CondaPackagesWithOptionsAndTheV2Template()
    {
        var fields = Conda("samtools=1.19") with
        {
            Packages = Conda("samtools=1.19").Packages! with
            {
                CondaOpts = new CondaOptsFields
                {
                    MambaImage = "localhost:5000/mamba/micromamba:2.0.5",
                    BaseImage = "localhost:5000/base/debian:12-slim",
                    BasePackages = "conda-forge::procps-ng conda-forge::tini>=0.19",
                    Commands = ["RUN echo built > /built.txt"],
                },
            },
        };
        Golden.AssertMatches("conda-micromamba-v2-options.Dockerfile.txt", Plan(fields).Dockerfile);
    }

    [Theory]
    [InlineData("mambaorg/micromamba:1.5.10-noble")]
    [InlineData("mambaorg/micromamba:1.5.8")]
    [InlineData("quay.io/mirror/micromamba:1-jammy")]
    public void AMicromamba1ImageIsReplacedByTheV2DefaultInTheV2Template(string image)
    {
        // nf-wave and wave-cli send the v1 default image with every request (CondaOpts' own default).
        var fields = Conda("bwa") with { Packages = Conda("bwa").Packages! with { CondaOpts = new CondaOptsFields { MambaImage = image } } };
        Assert.StartsWith("FROM mambaorg/micromamba:2-amazon2023 AS build\n", Plan(fields).Dockerfile, StringComparison.Ordinal);
        Assert.StartsWith($"FROM {image}\n", Plan(fields with { BuildTemplate = "conda/micromamba:v1" }).Dockerfile, StringComparison.Ordinal);
    }

    [Fact]
    public void CondaPackagesWithoutBasePackages()
    {
        var fields = Conda("bwa") with { Packages = Conda("bwa").Packages! with { CondaOpts = new CondaOptsFields { BasePackages = "" } } };
        var dockerfile = Plan(fields).Dockerfile;
        Assert.DoesNotContain("procps-ng", dockerfile, StringComparison.Ordinal);
        Assert.Contains("micromamba install -y -n base -f /tmp/conda.yml)) \\\n    && micromamba clean -a -y", dockerfile, StringComparison.Ordinal);
        var v1 = Plan(fields with { BuildTemplate = "conda/micromamba:v1" }).Dockerfile;
        Assert.Contains("micromamba install -y -n base -f /tmp/conda.yml \\\n    && micromamba env export", v1, StringComparison.Ordinal);
    }

    [Fact]
    public void ARemoteLockFileIsFetchedIntoTheContextAndInstalledWithV2()
    {
        const string url = "https://wave.example.com/v1alpha1/builds/bd-0123456789abcdef_1/condalock";
        var plan = Plan(Conda(url) with { NameStrategy = "none" });
        Golden.AssertMatches("conda-micromamba-v2-lockfile.Dockerfile.txt", plan.Dockerfile);
        Assert.Empty(plan.ContextFiles);
        var file = Assert.Single(plan.RemoteFiles);
        Assert.Equal(new RemoteContextFile("conda.lock", new Uri(url), 1024 * 1024), file);
        Assert.Equal(file, Assert.Single(plan.ToJob(1, DateTimeOffset.UnixEpoch).RemoteFiles));
        Assert.Equal($"{Repository}:{plan.ContainerId}", Plan(Conda(url)).TargetImage);
    }

    [Fact]
    public void ARemoteLockFileWithTheV1Template()
    {
        var plan = Plan(Conda("http://127.0.0.1:8080/envs/conda.lock") with { BuildTemplate = "conda/micromamba:v1" });
        Golden.AssertMatches("conda-micromamba-v1-lockfile.Dockerfile.txt", plan.Dockerfile);
        Assert.Equal("conda.lock", Assert.Single(plan.RemoteFiles).Path);
    }

    [Fact]
    public void PixiTemplate()
    {
        var plan = Plan(Conda("bioconda::samtools=1.19", "bwa") with { BuildTemplate = "conda/pixi:v1", NameStrategy = "none" });
        Golden.AssertMatches("conda-pixi-v1.Dockerfile.txt", plan.Dockerfile);
        Golden.AssertMatches("conda-pixi-v1.conda.yml.txt", plan.ContextFiles["conda.yml"]);
    }

    [Fact]
    public void PixiTemplateWithPixiOpts()
    {
        var fields = Conda("bwa") with
        {
            BuildTemplate = "conda/pixi:v1",
            Packages = Conda("bwa").Packages! with
            {
                // wave-cli sends condaOpts next to pixiOpts: the pixi template reads only pixiOpts.
                CondaOpts = new CondaOptsFields { MambaImage = "mambaorg/micromamba:1.5.10-noble" },
                PixiOpts = new PixiOptsFields
                {
                    PixiImage = "localhost:5000/tools/pixi:0.40",
                    BaseImage = "localhost:5000/base/debian:12",
                    BasePackages = "conda-forge::procps-ng conda-forge::coreutils",
                    Commands = ["RUN echo pixi > /built-with.txt"],
                },
            },
        };
        Golden.AssertMatches("conda-pixi-v1-options.Dockerfile.txt", Plan(fields).Dockerfile);
    }

    [Fact]
    public void CranPackagesGetTheInstallrTemplateByDefault()
    {
        var plan = Plan(new BuildRequestFields { Packages = new PackagesFields { Type = "CRAN", Entries = ["dplyr", "ggplot2", "bioc::limma"] } });
        Assert.Equal(BuildKind.Cran, plan.Kind);
        Golden.AssertMatches("cran-installr-v1.Dockerfile.txt", plan.Dockerfile);
        Assert.Empty(plan.ContextFiles);
        Assert.Equal($"{Repository}:{plan.ContainerId}", plan.TargetImage);
    }

    [Fact]
    public void CranPackagesWithRepositoriesAndCranOpts()
    {
        var fields = new BuildRequestFields
        {
            BuildTemplate = "cran/installr:v1",
            Packages = new PackagesFields
            {
                Type = "CRAN",
                Entries = ["shiny"],
                Channels = ["cran", "bioconductor", "https://r.example.org/cran"],
                CranOpts = new CranOptsFields { RImage = "rocker/tidyverse:4.3.0", BasePackages = "libcurl4-openssl-dev", Commands = ["RUN R -e 'library(shiny)'"] },
            },
        };
        Golden.AssertMatches("cran-installr-v1-options.Dockerfile.txt", Plan(fields).Dockerfile);
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

    /// <summary>
    /// Every RUN step of every template is a command line /bin/sh can parse (sh -n): a template that only looks right in a
    /// golden file still fails here (the reference server's CRAN template put BiocManager::install('x') among install2.r's
    /// arguments, which no shell accepts).
    /// </summary>
    [Fact]
    public async Task EveryRunStepOfEveryTemplateIsValidShell()
    {
        var dockerfiles = new[]
        {
            Plan(Conda("bioconda::salmon=1.10.3", "numpy>=1.26")).Dockerfile,
            Plan(Conda("bwa") with { BuildTemplate = "conda/micromamba:v1" }).Dockerfile,
            Plan(Conda("https://example.com/conda.lock")).Dockerfile,
            Plan(Conda("https://example.com/conda.lock") with { BuildTemplate = "conda/micromamba:v1" }).Dockerfile,
            Plan(Conda("bwa") with { BuildTemplate = "conda/pixi:v1" }).Dockerfile,
            Plan(new BuildRequestFields { Packages = new PackagesFields { Type = "CRAN", Entries = ["dplyr", "bioc::limma"], Channels = ["bioconductor", "https://r.example.org/cran"] } }).Dockerfile,
            Plan(new BuildRequestFields { SpackFile = Base64("spack:\n  specs: [zlib]\n") }).Dockerfile,
        };
        var steps = 0;
        foreach (var dockerfile in dockerfiles)
        {
            foreach (var run in RunSteps(dockerfile))
            {
                steps++;
                var shell = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("/bin/sh", ["-n", "-c", run]) { RedirectStandardError = true })!;
                var error = await shell.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
                await shell.WaitForExitAsync(TestContext.Current.CancellationToken);
                Assert.True(shell.ExitCode == 0, $"sh -n refuses the RUN step:\n{run}\n{error}");
            }
        }
        Assert.True(steps >= 7, $"only {steps} RUN steps found");
    }

    private static IEnumerable<string> RunSteps(string dockerfile)
    {
        var joined = dockerfile.Replace("\\\n", " ", StringComparison.Ordinal);
        return joined.Split('\n').Where(line => line.StartsWith("RUN ", StringComparison.Ordinal)).Select(line => line[4..]);
    }
}
