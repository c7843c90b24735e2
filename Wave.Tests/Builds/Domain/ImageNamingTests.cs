using Wave.Core.Builds;
using Wave.Core.Names;

using static Wave.Tests.Builds.Domain.BuildFields;

namespace Wave.Tests.Builds.Domain;

/// <summary>Target names per name strategy: the rules of docs/build-naming.md.</summary>
public sealed class ImageNamingTests
{
    private const string Id = "0123456789abcdef";
    private const string Repo = "localhost:5000/wave/build";

    private static IReadOnlyList<CondaPackage> Packages(params string[] specs) => [.. specs.Select(s => CondaPackage.FromSpec(s)!)];

    private static string Name(NameStrategy strategy, params string[] specs) => ImageNaming.Name(Repo, Id, strategy, Packages(specs)).ToString();

    [Fact]
    public void NoneIsRepositoryAndId() =>
        Assert.Equal($"{Repo}:{Id}", Name(NameStrategy.None, "salmon=1.10.3"));

    [Fact]
    public void TagPrefixListsPackagesAndVersionsBeforeTheId() =>
        Assert.Equal($"{Repo}:salmon-1.10.3_bwa-0.7.17--{Id}", Name(NameStrategy.TagPrefix, "bioconda::salmon=1.10.3", "bwa==0.7.17"));

    [Fact]
    public void TagPrefixWithoutVersionsUsesNames() =>
        Assert.Equal($"{Repo}:salmon_bwa--{Id}", Name(NameStrategy.TagPrefix, "salmon", "bwa"));

    [Fact]
    public void WithoutPackagesEveryStrategyIsRepositoryAndId()
    {
        Assert.Equal($"{Repo}:{Id}", Name(NameStrategy.TagPrefix));
        Assert.Equal($"{Repo}:{Id}", Name(NameStrategy.ImageSuffix));
    }

    [Fact]
    public void TagPrefixKeepsAtMostFiveNamesTheFifthSayingPruned()
    {
        Assert.Equal($"{Repo}:a_b_c_d_e--{Id}", Name(NameStrategy.TagPrefix, "a", "b", "c", "d", "e"));
        Assert.Equal($"{Repo}:a_b_c_d_pruned--{Id}", Name(NameStrategy.TagPrefix, "a", "b", "c", "d", "e", "f"));
    }

    [Fact]
    public void TagPrefixDropsCharactersTagsCannotHold() =>
        Assert.Equal($"{Repo}:rbioconductor-deseq2-1.42.0_py3k-2.0--{Id}", Name(NameStrategy.TagPrefix, "r+bioconductor-deseq2=1.42.0", "py3k@!=2.0"));

    [Fact]
    public void TagPrefixIsCutSoTheTagFitsEightyCharactersAndKeepsTheId()
    {
        var name = Name(NameStrategy.TagPrefix, "a-very-long-package-name-number-one=1.2.3", "another-very-long-package-name=4.5.6", "third=7");
        var tag = name[(name.LastIndexOf(':') + 1)..];
        Assert.Equal(80, tag.Length);
        Assert.EndsWith("--" + Id, tag, StringComparison.Ordinal);
        Assert.Equal("a-very-long-package-name-number-one-1.2.3_another-very-long-pa--" + Id, tag);
    }

    [Fact]
    public void TagPrefixCutDoesNotLeaveADanglingSeparator()
    {
        // 61 characters then '_' at position 62: the cut would end in '_', which is dropped.
        var first = new string('x', 61);
        var tag = ImageNaming.TagPrefix(Packages(first, "second"));
        Assert.Equal(first, tag);
    }

    [Fact]
    public void TagPrefixNeverStartsWithADotOrDash() =>
        Assert.Equal($"{Repo}:tool-1.0--{Id}", Name(NameStrategy.TagPrefix, "...tool=1.0"));

    [Fact]
    public void DuplicatePackagesAppearOnce() =>
        Assert.Equal($"{Repo}:bwa--{Id}", Name(NameStrategy.TagPrefix, "bwa", "bioconda::bwa"));

    [Fact]
    public void ImageSuffixPutsNamesInTheRepositoryAndTheOnlyVersionInTheTag()
    {
        Assert.Equal($"{Repo}/salmon:1.10.3--{Id}", Name(NameStrategy.ImageSuffix, "bioconda::salmon=1.10.3"));
        Assert.Equal($"{Repo}/salmon_bwa:{Id}", Name(NameStrategy.ImageSuffix, "salmon=1.10.3", "bwa=0.7.17"));
        Assert.Equal($"{Repo}/salmon:{Id}", Name(NameStrategy.ImageSuffix, "salmon"));
    }

    [Fact]
    public void ImageSuffixLowerCasesAndKeepsRepositoryGrammar()
    {
        var name = Name(NameStrategy.ImageSuffix, "R-Base=4.3", "Py..Thing", "__x__");
        Assert.Equal($"{Repo}/r-base_py_thing_x:{Id}", name);
        Assert.True(ImageReference.TryParse(name, out _, out var error), error);
    }

    [Fact]
    public void ImageSuffixKeepsAtMostFiveNames() =>
        Assert.Equal($"{Repo}/a_b_c_d_pruned:{Id}", Name(NameStrategy.ImageSuffix, "a", "b", "c", "d", "e", "f"));

    [Fact]
    public void ImageSuffixKeepsTheWholeNameWithinTheRegistryLimit()
    {
        var name = Name(NameStrategy.ImageSuffix, new string('p', 300) + "=1.0");
        var repository = name[..name.LastIndexOf(':')];
        Assert.Equal(ImageReference.NameTotalLengthMax, repository.Length);
        Assert.EndsWith(":1.0--" + Id, name, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bioconda::salmon=1.10.3", "salmon", "1.10.3")]
    [InlineData("salmon=1.10.3=h7e5ed60_0", "salmon", "1.10.3")]
    [InlineData("bwa==0.7.17", "bwa", "0.7.17")]
    [InlineData("numpy>=1.2,<2", "numpy", "1.2")]
    [InlineData("numpy >=1.26", "numpy", "1.26")]
    [InlineData("conda-forge/label/dev::pkg~=2.1", "pkg", "2.1")]
    [InlineData("samtools", "samtools", null)]
    [InlineData("pysam[version='>=0.22']", "pysam", null)]
    [InlineData("python=*", "python", null)]
    public void PackageSpecsGiveNameAndVersion(string spec, string name, string? version) =>
        Assert.Equal(new CondaPackage(name, version), CondaPackage.FromSpec(spec));

    [Theory]
    [InlineData("https://example.com/env.lock")]
    [InlineData("=1.0")]
    [InlineData("bioconda::")]
    public void SpecsWithoutANameGiveNothing(string spec) => Assert.Null(CondaPackage.FromSpec(spec));

    [Fact]
    public void EnvironmentFileDependenciesAreRead()
    {
        const string yaml = """
            # a comment
            name: rnaseq
            channels:
              - bioconda
            dependencies:
              - salmon=1.10.3  # pinned
              - "fastqc=0.12.1"
              - pip:
                - multiqc==1.21
              - bwa
            variables:
              - NOT_A_PACKAGE
            """;
        Assert.Equal(["salmon=1.10.3", "fastqc=0.12.1", "bwa"], CondaEnvironmentDependencies.Read(yaml));
    }

    [Fact]
    public void EnvironmentFileWithoutDependenciesGivesNoNames() =>
        Assert.Empty(CondaEnvironmentDependencies.Read("name: empty\nchannels: [conda-forge]\n"));

    [Fact]
    public void PlannedConda_DefaultStrategyIsTagPrefix()
    {
        var plan = Plan(Conda("bioconda::salmon=1.10.3", "bwa=0.7.17"));
        Assert.Equal(NameStrategy.TagPrefix, plan.NameStrategy);
        Assert.Equal($"salmon-1.10.3_bwa-0.7.17--{plan.ContainerId}", plan.Tag);
        Assert.Equal($"{Repository}:{plan.Tag}", plan.TargetImage);
    }

    [Fact]
    public void PlannedConda_ImageSuffix()
    {
        var plan = Plan(Conda("bioconda::salmon=1.10.3") with { NameStrategy = "imageSuffix" });
        Assert.Equal($"{Repository}/salmon:1.10.3--{plan.ContainerId}", plan.TargetImage);
        Assert.Equal(Repository, plan.BuildRepository);
    }

    [Fact]
    public void StrategyNamesAreCaseInsensitive()
    {
        Assert.True(NameStrategies.TryParse("TAGPREFIX", out var strategy));
        Assert.Equal(NameStrategy.TagPrefix, strategy);
        Assert.True(NameStrategies.TryParse(null, out strategy));
        Assert.Equal(NameStrategies.Default, strategy);
        Assert.Equal("imageSuffix", NameStrategy.ImageSuffix.ToApiName());
    }
}
