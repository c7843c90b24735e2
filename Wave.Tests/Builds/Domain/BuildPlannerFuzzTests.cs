using Wave.Core.Augmentation;
using Wave.Core.Builds;
using Wave.Core.Names;

using static Wave.Tests.Builds.Domain.BuildFields;

namespace Wave.Tests.Builds.Domain;

/// <summary>Random requests: the planner answers a plan or a field error, never an exception, and every name it makes is valid.</summary>
public sealed class BuildPlannerFuzzTests
{
    private static readonly string[] Fragments =
    [
        "", " ", "a", "Z", "0", "_", "-", ".", "..", "__", "--", "=", "==", ">=", "<", "!", "~", "*", ":", "::", "/", "@", "#",
        "'", "\"", "\n", "\t", "\\", "$", "é", "☃", "salmon", "bioconda", "1.10.3", "[x]", "pip:", "http://", "FROM ",
        "RUN ", "dependencies:\n- ", "channels:\n", "  - ", "linux/arm64", "amd64", "tagPrefix", "imageSuffix", "none",
    ];

    private static string Text(Random random)
    {
        var count = random.Next(0, 8);
        return string.Concat(Enumerable.Range(0, count).Select(_ => Fragments[random.Next(Fragments.Length)]));
    }

    private static string? Maybe(Random random, Func<string> value) => random.Next(3) == 0 ? null : value();

    private static string? OneOf(Random random, params string?[] values) => values[random.Next(values.Length)];

    private static BuildRequestFields RandomFields(Random random)
    {
        var kind = random.Next(5);
        return new BuildRequestFields
        {
            ContainerFile = kind == 0 ? Base64("FROM busybox\n" + Text(random)) : null,
            CondaFile = kind == 1 ? Base64("dependencies:\n- " + Text(random) + "\n- " + Text(random) + "\n") : null,
            SpackFile = kind == 2 ? Base64("spack:\n  specs: [" + Text(random) + "]\n") : null,
            Packages = kind == 3
                ? new PackagesFields
                {
                    Type = random.Next(4) == 0 ? Text(random) : "CONDA",
                    Entries = [.. Enumerable.Range(0, random.Next(0, 8)).Select(_ => Text(random))],
                    Channels = random.Next(2) == 0 ? null : [Text(random)],
                    CondaOpts = random.Next(2) == 0 ? null : new CondaOptsFields { BasePackages = Text(random), Commands = [Text(random)] },
                }
                : null,
            ContainerImage = kind == 4 ? Maybe(random, () => "localhost:5000/" + Text(random)) : null,
            ContainerConfig = random.Next(2) == 0 ? null : new ContainerConfig { Env = [Text(random) + "=" + Text(random)], WorkingDir = Maybe(random, () => Text(random)), Cmd = [Text(random)] },
            Freeze = random.Next(2) == 0,
            BuildRepository = Maybe(random, () => random.Next(2) == 0 ? "localhost:5000/" + Text(random) : Repository),
            ContainerPlatform = OneOf(random, null, "linux/amd64", "arm64", "linux/arm64/v8", Text(random)),
            NameStrategy = OneOf(random, null, "none", "tagPrefix", "imageSuffix", Text(random)),
        };
    }

    [Fact]
    public void RandomRequestsGiveAPlanOrAFieldError()
    {
        var random = new Random(20261121);
        var plans = 0;
        for (var i = 0; i < 5000; i++)
        {
            var fields = RandomFields(random);
            if (!BuildPlanner.TryPlan(fields, Options, out var plan, out var error))
            {
                Assert.False(string.IsNullOrEmpty(error.Field));
                Assert.StartsWith(error.Field, error.Message, StringComparison.Ordinal);
                continue;
            }
            plans++;
            Assert.True(ImageReference.TryParse(plan.TargetImage, out var name, out var nameError), $"{plan.TargetImage}: {nameError}");
            Assert.True(plan.Tag.Length <= ImageNaming.MaxTagLength, plan.Tag);
            Assert.EndsWith(plan.ContainerId, plan.Tag, StringComparison.Ordinal);
            Assert.Equal(plan.Tag, name.Tag);
            Assert.Equal(plan.ContainerId, BuildPlanner.Plan(fields, Options).ContainerId);
        }
        Assert.True(plans > 500, $"only {plans} of 5000 random requests were valid: the generator no longer exercises planning");
    }

    [Fact]
    public void RandomPackageNamesAlwaysMakeValidNames()
    {
        var random = new Random(7);
        foreach (var strategy in Enum.GetValues<NameStrategy>())
        {
            for (var i = 0; i < 2000; i++)
            {
                var packages = Enumerable.Range(0, random.Next(0, 9)).Select(_ => CondaPackage.FromSpec(Text(random))).OfType<CondaPackage>().ToList();
                var name = ImageNaming.Name(Repository, "0123456789abcdef", strategy, packages).ToString();
                Assert.True(ImageReference.TryParse(name, out _, out var error), $"{strategy} {name}: {error}");
            }
        }
    }
}
