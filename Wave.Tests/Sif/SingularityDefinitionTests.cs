using Wave.Core.Builds;
using Wave.Core.Builds.Singularity;
using Wave.Tests.Builds.Domain;

namespace Wave.Tests.Sif;

/// <summary>The definition-file subset and its translation into a Dockerfile plus context files, text for text.</summary>
public sealed class SingularityDefinitionTests
{
    private const string Full = """
        # a comment in the header
        Bootstrap: docker
        From: 127.0.0.1:5000/base/busybox:v2

        %files
            data/input.txt /opt/input.txt
            config.yaml
            scripts/run.sh /opt/tool/run

        %post
            mkdir -p /opt/tool
            echo "built at $(date)" > /opt/tool/built.txt

        %environment
            export TOOL_HOME=/opt/tool
            export GREETING='hello world'

        %runscript
            echo "running with $@"
            exec /opt/tool/run "$@"

        %labels
            Author wave@example.com
            Version 1.2.3
            Description a tool, "quoted"

        %post
            echo second post section
        """;

    [Fact]
    public void A_full_definition_translates_to_the_golden_Dockerfile_and_context_files()
    {
        var build = SingularityDockerfile.Translate(Full);
        Golden.AssertMatches("singularity-full.Dockerfile.txt", build.Dockerfile);
        Assert.Equal(
            [SingularityDockerfile.EnvironmentScript, SingularityDockerfile.Labels, SingularityDockerfile.PostScript, SingularityDockerfile.Runscript],
            build.ContextFiles.Keys);
        Golden.AssertMatches("singularity-full.post.sh.txt", build.ContextFiles[SingularityDockerfile.PostScript]);
        Golden.AssertMatches("singularity-full.90-environment.sh.txt", build.ContextFiles[SingularityDockerfile.EnvironmentScript]);
        Golden.AssertMatches("singularity-full.runscript.txt", build.ContextFiles[SingularityDockerfile.Runscript]);
        Golden.AssertMatches("singularity-full.labels.json.txt", build.ContextFiles[SingularityDockerfile.Labels]);
    }

    [Fact]
    public void A_minimal_definition_gets_an_empty_environment_and_labels_and_no_runscript()
    {
        var build = SingularityDockerfile.Translate("Bootstrap: docker\nFrom: ubuntu:22.04\n");
        Golden.AssertMatches("singularity-minimal.Dockerfile.txt", build.Dockerfile);
        Assert.Equal("#!/bin/sh\n# Custom environment shell code should follow\n", build.ContextFiles[SingularityDockerfile.EnvironmentScript]);
        Assert.Equal("{}\n", build.ContextFiles[SingularityDockerfile.Labels]);
    }

    [Fact]
    public void Header_keywords_are_case_insensitive_and_windows_line_ends_are_read()
    {
        var definition = SingularityDefinition.Parse("bootstrap: Docker\r\nFROM: alpine:3.19\r\n%post\r\n  apk add curl\r\n");
        Assert.Equal("alpine:3.19", definition.From);
        Assert.Equal("  apk add curl", definition.Post);
    }

    [Theory]
    [InlineData("Bootstrap: docker\nFrom: busybox\n%setup\n  touch x\n", "containerFile section %setup (line 3) is not supported; this service builds %files, %post, %environment, %runscript and %labels")]
    [InlineData("Bootstrap: docker\nFrom: busybox\n%test\n  true\n", "containerFile section %test (line 3) is not supported; this service builds %files, %post, %environment, %runscript and %labels")]
    [InlineData("Bootstrap: docker\nFrom: busybox\n%appinstall foo\n  true\n", "containerFile section %appinstall (line 3) is not supported; this service builds %files, %post, %environment, %runscript and %labels")]
    [InlineData("Bootstrap: docker\nFrom: busybox\n%post -c /bin/bash\n  true\n", "containerFile section %post (line 3): options ('-c /bin/bash') are not supported")]
    [InlineData("Bootstrap: docker\nFrom: busybox\n%files from build\n  a b\n", "containerFile section %files (line 3): options ('from build') are not supported")]
    [InlineData("Bootstrap: docker\nFrom: busybox\n%files\n  a b c\n", "containerFile section %files: the line 'a b c' has more than a source and a destination")]
    [InlineData("Bootstrap: library\nFrom: alpine\n", "containerFile header Bootstrap 'library' is not supported; only 'docker' is")]
    [InlineData("From: alpine\n", "containerFile has no 'Bootstrap:' header; this service builds 'Bootstrap: docker' definitions")]
    [InlineData("Bootstrap: docker\n", "containerFile has no 'From:' header naming the image to start from")]
    [InlineData("Bootstrap: docker\nFrom: alpine\nStage: build\n", "containerFile header keyword 'Stage' (line 3) is not supported; only Bootstrap and From are")]
    [InlineData("Bootstrap: docker\nFrom alpine\n", "containerFile header line 2 is not 'Keyword: value'")]
    public void Unsupported_definitions_are_refused_naming_what(string definition, string message)
    {
        var error = Assert.Throws<InvalidBuildRequestException>(() => SingularityDefinition.Parse(definition));
        Assert.Equal("containerFile", error.Error.Field);
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void An_invalid_image_name_in_From_is_refused()
    {
        var error = Assert.Throws<InvalidBuildRequestException>(() => SingularityDefinition.Parse("Bootstrap: docker\nFrom: UPPER/Case:tag\n"));
        Assert.StartsWith("containerFile header From 'UPPER/Case:tag' is not a valid image name", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_default_runscript_runs_the_entrypoint_with_the_arguments_or_the_cmd()
    {
        Assert.Equal(
            "#!/bin/sh\nif [ $# -gt 0 ]; then\n    exec /entry.sh --flag \"$@\"\nfi\nexec /entry.sh --flag run 'two words'\n",
            SingularityRuntimeFiles.DefaultRunscript(["/entry.sh", "--flag"], ["run", "two words"]));
        Assert.Equal(
            "#!/bin/sh\nif [ $# -gt 0 ]; then\n    exec \"$@\"\nfi\nexec /bin/sh\n",
            SingularityRuntimeFiles.DefaultRunscript(null, null));
        Assert.Equal(
            "#!/bin/sh\nexport PATH=/usr/bin:/bin\nexport MSG='it'\\''s'\n",
            SingularityRuntimeFiles.DockerEnvironmentScript(["PATH=/usr/bin:/bin", "MSG=it's", "1BAD=x", "noequals"]));
    }
}
