using Wave.Core.Builds;
using Wave.Core.Builds.Singularity;

using static Wave.Tests.Builds.Domain.BuildFields;

namespace Wave.Tests.Sif;

/// <summary>How a <c>format: sif</c> request is planned: what it requires, how a definition file is told from a Dockerfile, its id and names.</summary>
public sealed class SifBuildPlannerTests
{
    private const string Definition = "Bootstrap: docker\nFrom: busybox\n\n%post\n    echo made > /made.txt\n\n%runscript\n    cat /made.txt\n";

    private static BuildRequestFields Sif(string containerFile) =>
        Dockerfile(containerFile) with { Format = "sif", Freeze = true, BuildRepository = Repository };

    private static void AssertError(BuildRequestFields fields, string field, string containing)
    {
        var error = Error(fields);
        Assert.Equal(field, error.Field);
        Assert.StartsWith(field + " ", error.Message, StringComparison.Ordinal);
        Assert.Contains(containing, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sif")]
    [InlineData("SIF")]
    [InlineData("singularity")]
    public void A_dockerfile_with_format_sif_is_planned_as_a_sif_build(string format)
    {
        var plan = Plan(Sif("FROM busybox\nRUN echo hi > /hi.txt\n") with { Format = format });

        Assert.Equal("sif", plan.Format);
        Assert.Equal(BuildKind.Dockerfile, plan.Kind);
        Assert.True(plan.Freeze);
        Assert.StartsWith(Repository + ":", plan.TargetImage, StringComparison.Ordinal);
        Assert.Equal("oras://" + plan.TargetImage, plan.ResultImage);
        Assert.Equal("sif", plan.ToJob(1, DateTimeOffset.UnixEpoch).Format);
    }

    [Fact]
    public void The_format_is_part_of_the_container_id()
    {
        var docker = Plan(Dockerfile("FROM busybox\n") with { Freeze = true, BuildRepository = Repository });
        var sif = Plan(Sif("FROM busybox\n"));
        Assert.Equal(docker.Dockerfile, sif.Dockerfile);
        Assert.NotEqual(docker.ContainerId, sif.ContainerId);
        Assert.Equal(docker.TargetImage, docker.ResultImage);
        Assert.Equal(sif.ContainerId, Plan(Sif("FROM busybox\n") with { Format = "singularity" }).ContainerId);
    }

    [Fact]
    public void A_definition_file_is_translated_and_travels_in_the_context()
    {
        var plan = Plan(Sif("# a comment first\n\n" + Definition));

        Assert.Equal(BuildKind.Singularity, plan.Kind);
        Assert.Equal(SingularityDockerfile.Translate(Definition).Dockerfile, plan.Dockerfile);
        Assert.StartsWith("FROM busybox\n", plan.Dockerfile, StringComparison.Ordinal);
        Assert.Equal("# a comment first\n\n" + Definition, plan.ContextFiles[SingularityDockerfile.DefinitionFile]);
        Assert.Contains(SingularityDockerfile.PostScript, plan.ContextFiles.Keys);
        Assert.Contains(SingularityDockerfile.Runscript, plan.ContextFiles.Keys);
        // The definition text itself (not only its translation) shapes the id: the SIF stores it.
        Assert.NotEqual(plan.ContainerId, Plan(Sif("# another comment\n\n" + Definition)).ContainerId);
    }

    [Fact]
    public void A_definition_file_with_a_conda_file_gets_conda_yml_in_its_context()
    {
        var plan = Plan(Sif("Bootstrap: docker\nFrom: busybox\n%files\n    conda.yml /opt/conda.yml\n") with { CondaFile = Base64("dependencies:\n- bwa=0.7.17\n") });
        Assert.Contains("COPY [\"conda.yml\",\"/opt/conda.yml\"]", plan.Dockerfile, StringComparison.Ordinal);
        Assert.Equal("dependencies:\n- bwa=0.7.17\n", plan.ContextFiles["conda.yml"]);
        Assert.Contains("bwa-0.7.17", plan.Tag, StringComparison.Ordinal);
    }

    [Fact]
    public void Conda_packages_with_format_sif_use_the_conda_template()
    {
        var plan = Plan(Conda("bioconda::salmon=1.10.3") with { Format = "sif", Freeze = true, BuildRepository = Repository });
        Assert.Equal(BuildKind.Conda, plan.Kind);
        Assert.Contains("micromamba install", plan.Dockerfile, StringComparison.Ordinal);
        Assert.StartsWith($"oras://{Repository}:salmon-1.10.3--", plan.ResultImage, StringComparison.Ordinal);
    }

    [Fact]
    public void Sif_without_freeze_is_refused_naming_freeze() =>
        AssertError(Dockerfile("FROM busybox\n") with { Format = "sif", BuildRepository = Repository }, "freeze", "must be true for format sif");

    [Fact]
    public void Sif_without_a_build_repository_is_refused_naming_it_even_when_the_service_has_a_default() =>
        AssertError(Dockerfile("FROM busybox\n") with { Format = "sif", Freeze = true }, "buildRepository", "is required for format sif");

    [Fact]
    public void Sif_for_several_platforms_is_refused_naming_the_platform() =>
        AssertError(Sif("FROM busybox\n") with { ContainerPlatform = "linux/amd64,linux/arm64" }, "containerPlatform", "a SIF holds one");

    [Theory]
    [InlineData("%test\n    true\n", "section %test")]
    [InlineData("%setup\n    true\n", "section %setup")]
    [InlineData("%startscript\n    true\n", "section %startscript")]
    public void An_unsupported_definition_section_is_refused_naming_it(string section, string message) =>
        AssertError(Sif("Bootstrap: docker\nFrom: busybox\n" + section), "containerFile", message);

    [Fact]
    public void A_definition_that_bootstraps_from_elsewhere_is_refused() =>
        AssertError(Sif("Bootstrap: library\nFrom: alpine\n"), "containerFile", "Bootstrap 'library' is not supported");

    [Fact]
    public void A_definition_file_without_format_sif_is_refused() =>
        AssertError(Dockerfile(Definition) with { Freeze = true, BuildRepository = Repository }, "containerFile", "send it with format sif");

    [Fact]
    public void A_definition_that_reads_registry_credentials_is_refused() =>
        AssertError(Sif("Bootstrap: docker\nFrom: busybox\n%post\n    cat /run/secrets/x\n"), "containerFile", "registry credentials");

    [Theory]
    [InlineData("Bootstrap: docker\nFrom: busybox\n", true)]
    [InlineData("\n# c\n  bootstrap:docker\n", true)]
    [InlineData("FROM busybox\n# Bootstrap: docker\n", false)]
    [InlineData("# Bootstrap: docker\nFROM busybox\n", false)]
    public void A_definition_file_is_told_by_its_first_line(string text, bool isDefinition) =>
        Assert.Equal(isDefinition, BuildPlanner.IsSingularityDefinition(text));
}
