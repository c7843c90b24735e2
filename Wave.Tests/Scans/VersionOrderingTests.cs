using System.Text.Json;

using Wave.Core.Scans.Versions;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Scans;

/// <summary>
/// Version orderings with versions as real packages carry them. dpkg's and PEP 440's are checked against the real
/// implementations (dpkg --compare-versions; Python's packaging library) on the same pairs; apk's and conda's against
/// the orderings their documentation lists.
/// </summary>
public sealed class VersionOrderingTests
{
    private static readonly string[] DebianVersions =
    [
        "2.36-9+deb12u4", "2.36-9+deb12u10", "2.36-9", "2.36-9~bpo11+1", "2.36", "2.36~rc1-1", "2.37-1",
        "1:1.2.13.dfsg-1", "1.2.13.dfsg-1", "1:1.2.13.dfsg-1+b1", "1:1.2.11.dfsg-2+deb11u2", "3.0.11-1~deb12u2", "3.0.13-1~deb12u1",
        "3.0.9-1", "3.0.11-1", "252.22-1~deb12u1", "252.19-1~deb12u1", "7.88.1-10+deb12u5", "7.88.1-10+deb12u12", "1.0~~", "1.0~", "1.0",
        "1.0+", "1.0a", "1.0-0", "1.0-1", "0.9.8zh-1", "10.2.1-6", "12.2.0-14", "2:8.2.3995-1+deb12u2", "1.21.1ubuntu2.3", "1.21.1ubuntu2",
        "5.2.15-2+b2", "5.2.15-2", "1.46.6~rc1-1", "1.46.6-1", "20230311", "2023.1", "0.5.11+git20210903+057cd650a4ed-3",
    ];

    [Fact]
    public async Task Debian_order_agrees_with_dpkg_on_real_versions()
    {
        var dpkg = Requirements.Binary("dpkg", "dpkg");
        var pairs = (from a in DebianVersions from b in DebianVersions where string.CompareOrdinal(a, b) < 0 select (a, b)).ToList();
        var script = string.Join('\n', pairs.Select(p =>
            $"if {dpkg} --compare-versions '{p.a}' lt '{p.b}'; then echo '<'; elif {dpkg} --compare-versions '{p.a}' eq '{p.b}'; then echo '='; else echo '>'; fi"));
        var file = Path.Combine(Directory.CreateTempSubdirectory("wave-dpkg-").FullName, "compare.sh");
        await File.WriteAllTextAsync(file, script + "\n", TestContext.Current.CancellationToken);
        var expected = (await TestProcess.RunAsync("/bin/sh", [file])).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(pairs.Count, expected.Length);
        var disagreements = new List<string>();
        for (var i = 0; i < pairs.Count; i++)
        {
            var ours = DebianVersion.Ordering.Compare(pairs[i].a, pairs[i].b);
            var symbol = ours switch { < 0 => "<", 0 => "=", > 0 => ">", null => "unordered" };
            if (symbol != expected[i])
            {
                disagreements.Add($"{pairs[i].a} {symbol} {pairs[i].b}, dpkg says {expected[i]}");
            }
        }
        Assert.True(disagreements.Count == 0, string.Join('\n', disagreements));
        Assert.True(pairs.Count > 600);
    }

    private static readonly string[] PythonVersions =
    [
        "1.0", "1.0.0", "1.0.post1", "1.0-1", "1.0.dev0", "1.0a1", "1.0a1.dev1", "1.0b2", "1.0rc1", "1.0c1", "1.0RC2", "1.0+local.1",
        "1.0+local.a", "1.0+2", "1!0.1", "2.31.0", "2.32.0", "2.32.3", "2.0.0a1", "1.26.4", "1.26.18", "2.2.1", "24.0", "23.3.2",
        "0.0.1", "v1.2", "1.2.3.4", "1.2.post2.dev3", "1.2-r1", "1.2.rev3", "1.0alpha2", "1.0beta", "1.0preview3", "3.11.8", "3.11.10",
        "70.0.0", "69.5.1", "0.42.0", "1.0.0.post0",
    ];

    [Fact]
    public async Task Python_order_agrees_with_the_packaging_library_on_real_versions()
    {
        var python = Requirements.Binary("python3", "python3-packaging");
        var pairs = (from a in PythonVersions from b in PythonVersions where string.CompareOrdinal(a, b) < 0 select new[] { a, b }).ToList();
        var dir = Directory.CreateTempSubdirectory("wave-pep440-").FullName;
        var input = Path.Combine(dir, "pairs.json");
        await File.WriteAllTextAsync(input, JsonSerializer.Serialize(pairs), TestContext.Current.CancellationToken);
        var program = Path.Combine(dir, "compare.py");
        await File.WriteAllTextAsync(program, """
            import json, sys
            try:
                from packaging.version import Version
            except ImportError:
                sys.exit("python3 cannot import packaging: apt-get install -y python3-packaging")
            for a, b in json.load(open(sys.argv[1])):
                x, y = Version(a), Version(b)
                print("<" if x < y else "=" if x == y else ">")
            """, TestContext.Current.CancellationToken);
        // Debian's python3, where python3-packaging installs (a python3 earlier on PATH may be another installation).
        var interpreter = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : python;
        var expected = (await TestProcess.RunAsync(interpreter, [program, input])).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(pairs.Count, expected.Length);
        var disagreements = new List<string>();
        for (var i = 0; i < pairs.Count; i++)
        {
            var ours = PythonVersion.Ordering.Compare(pairs[i][0], pairs[i][1]);
            var symbol = ours switch { < 0 => "<", 0 => "=", > 0 => ">", null => "unordered" };
            if (symbol != expected[i])
            {
                disagreements.Add($"{pairs[i][0]} {symbol} {pairs[i][1]}, packaging says {expected[i]}");
            }
        }
        Assert.True(disagreements.Count == 0, string.Join('\n', disagreements));
    }

    [Theory]
    [InlineData("not a version")]
    [InlineData("1.0.0~beta")]
    [InlineData("")]
    public void Python_strings_that_are_not_PEP_440_are_not_ordered(string version)
    {
        Assert.False(PythonVersion.Ordering.IsValid(version));
        Assert.Null(PythonVersion.Ordering.Compare(version, "1.0"));
    }

    /// <summary>Alpine package versions in ascending order, as apk orders them.</summary>
    [Theory]
    [InlineData("1.2.4-r1", "1.2.4-r2")]
    [InlineData("1.2.4", "1.2.4-r0")]
    [InlineData("1.2.4_rc1-r0", "1.2.4-r0")]
    [InlineData("1.2.4_alpha", "1.2.4_beta")]
    [InlineData("1.2.4_beta2", "1.2.4_pre1")]
    [InlineData("1.2.4_pre1", "1.2.4_rc1")]
    [InlineData("1.2.4_rc1", "1.2.4_rc2")]
    [InlineData("1.2.4", "1.2.4_p1")]
    [InlineData("1.2.4_git20230101", "1.2.4_p1")]
    [InlineData("1.2.4_cvs", "1.2.4_svn")]
    [InlineData("1.2.4", "1.2.4a")]
    [InlineData("1.2.4a", "1.2.4b")]
    [InlineData("1.2.4a", "1.2.5")]
    [InlineData("1.2.4", "1.2.4.1")]
    [InlineData("1.2.9", "1.2.10")]
    [InlineData("1.01", "1.1")]
    [InlineData("1.001", "1.01")]
    [InlineData("3.1.2-r0", "3.1.4-r1")]
    [InlineData("1.36.1-r2", "1.36.1-r15")]
    [InlineData("2.9.14-r2", "2.11.4-r0")]
    [InlineData("0.9", "1.0")]
    [InlineData("1.0_p1", "1.0_p1-r1")]
    [InlineData("20230311-r0", "20240226-r0")]
    [InlineData("1.2.4-r0", "1.2.4.0")]
    public void Alpine_order_matches_apk(string lower, string higher)
    {
        Assert.True(AlpineVersion.Ordering.Compare(lower, higher) < 0, $"{lower} < {higher}");
        Assert.True(AlpineVersion.Ordering.Compare(higher, lower) > 0, $"{higher} > {lower}");
        Assert.Equal(0, AlpineVersion.Ordering.Compare(lower, lower));
    }

    [Theory]
    [InlineData("1.2.4-r")]
    [InlineData("1.2.4_bogus1")]
    [InlineData("a1.0")]
    [InlineData("1.2-r1-r2")]
    [InlineData("1..2")]
    public void Alpine_strings_apk_rejects_are_not_ordered(string version) => Assert.False(AlpineVersion.Ordering.IsValid(version));

    /// <summary>The ordering conda's documentation lists (with == where it says equal).</summary>
    [Fact]
    public void Conda_order_is_the_one_conda_documents()
    {
        string[][] ascending =
        [
            ["0.4", "0.4.0"], ["0.4.1.rc", "0.4.1.RC"], ["0.4.1"], ["0.5a1"], ["0.5b3"], ["0.5C1"], ["0.5"], ["0.9.6"], ["0.960923"], ["1.0"],
            ["1.1dev1"], ["1.1a1"], ["1.1.0dev1", "1.1.dev1"], ["1.1.a1"], ["1.1.0rc1"], ["1.1.0", "1.1"], ["1.1.0post1", "1.1.post1"], ["1.1post1"],
            ["1996.07.12"], ["1!0.4.1"], ["1!3.1.1.6"], ["2!0.4.1"],
        ];
        for (var i = 0; i < ascending.Length; i++)
        {
            foreach (var same in ascending[i])
            {
                Assert.Equal(0, CondaVersion.Ordering.Compare(same, ascending[i][0]));
                for (var j = i + 1; j < ascending.Length; j++)
                {
                    foreach (var later in ascending[j])
                    {
                        Assert.True(CondaVersion.Ordering.Compare(same, later) < 0, $"{same} < {later}");
                        Assert.True(CondaVersion.Ordering.Compare(later, same) > 0, $"{later} > {same}");
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData("1.26.4", "1.26.10")]
    [InlineData("3.11.8", "3.12.0")]
    [InlineData("2023.11.17", "2024.2.2")]
    [InlineData("1.3.0.dev0", "1.3.0")]
    [InlineData("4.9.2", "4.9.2_1")]
    [InlineData("1.21.6", "1.21.6+1")]
    [InlineData("1.21.6+local", "1.21.6")]
    public void Conda_orders_real_package_versions(string lower, string higher) =>
        Assert.True(CondaVersion.Ordering.Compare(lower, higher) < 0, $"{lower} < {higher}");

    [Theory]
    [InlineData("1.2.3", "1.2.10", -1)]
    [InlineData("1.0.0-alpha", "1.0.0", -1)]
    [InlineData("1.0.0-alpha.1", "1.0.0-alpha.beta", -1)]
    [InlineData("1.0.0+build.1", "1.0.0+build.2", 0)]
    [InlineData("2.0", "1.9.9", 1)]
    public void Semver_precedence(string left, string right, int expected) =>
        Assert.Equal(expected, SemanticVersion.Ordering.Compare(left, right));
}
