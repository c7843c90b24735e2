using System.Text;
using System.Text.Json;

using Wave.Core.Scans.Sbom;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Scans;

/// <summary>Reading installed packages out of layers, and the SPDX document made of them.</summary>
public sealed class SbomTests
{
    internal static async Task<ImageContents> ReadAsync(IReadOnlyList<IReadOnlyList<LayerEntry>> layers)
    {
        var files = new ImageFiles();
        foreach (var layer in layers)
        {
            using var tar = new MemoryStream(ScanTestImages.Tar(layer));
            await files.AddLayerAsync(tar, TestContext.Current.CancellationToken);
        }
        return PackageInventory.Read(files.Files());
    }

    [Fact]
    public async Task Layers_are_stacked_with_whiteouts_links_and_opaque_folders()
    {
        var contents = await ReadAsync(ScanTestImages.DebianCondaLayers());

        Assert.Equal(new Distribution("debian", "12", "Debian GNU/Linux 12 (bookworm)"), contents.Distribution); // through the os-release link
        Assert.Equal(
        [
            "Dpkg bash 5.2.15-2+b2", "Dpkg libc6 2.36-9+deb12u4", "Dpkg libssl3 3.0.11-1~deb12u2", "Dpkg zlib1g 1:1.2.13.dfsg-1",
            "Conda numpy 1.26.4", "Conda openssl 3.2.1", "Conda python 3.11.8", "Conda requests 2.31.0",
            "Python requests 2.31.0",
        ], contents.Packages.Select(p => $"{p.Kind} {p.Name} {p.Version}"));
        // libgcrypt20 is only configuration files left behind: not installed. urllib3 and openssl 3.1.0 were whited out,
        // the Jinja2 egg-info hidden by the opaque folder.
        var bash = contents.Packages.Single(p => p.Name == "bash");
        Assert.Equal(("bash", "5.2.15-2", "amd64"), (bash.SourceName, bash.SourceVersion, bash.Architecture));
        Assert.Equal(("openssl", null), (contents.Packages.Single(p => p.Name == "libssl3").SourceName, contents.Packages.Single(p => p.Name == "libssl3").SourceVersion));
        var numpy = contents.Packages.Single(p => p.Name == "numpy");
        Assert.Equal(("py311h64a7726_0", "conda-forge", "linux-64", "opt/conda/conda-meta/numpy-1.26.4-py311h64a7726_0.json"),
            (numpy.Build, numpy.Channel, numpy.Subdir, numpy.Location));
        Assert.Equal("Apache 2.0", contents.Packages.Single(p => p.Kind == PackageKind.Python).License);
        Assert.Empty(contents.Problems);
    }

    [Fact]
    public async Task Apk_records_and_hard_links_are_read()
    {
        var contents = await ReadAsync(ScanTestImages.AlpineLayers());

        Assert.Equal(("alpine", "3.18.4"), (contents.Distribution!.Id, contents.Distribution.VersionId));
        Assert.Equal(
        [
            "Apk busybox 1.36.1-r2 busybox x86_64", "Apk libcrypto3 3.1.2-r0 openssl x86_64", "Apk musl 1.2.4-r1 musl x86_64",
            "Python PyYAML 6.0.1  ", "Python PyYAML 6.0.1  ",
        ], contents.Packages.Select(p => $"{p.Kind} {p.Name} {p.Version} {p.SourceName} {p.Architecture}"));
        Assert.Equal(["usr/lib/python3.11/site-packages/PyYAML-6.0.1.dist-info/METADATA", "usr/lib/python3.11/site-packages/pyyaml-copy.egg-info"],
            contents.Packages.Where(p => p.Kind == PackageKind.Python).Select(p => p.Location));
        Assert.Equal("MIT", contents.Packages.Single(p => p.Name == "musl").License);
    }

    [Fact]
    public async Task A_later_layer_replaces_a_file_and_a_whiteout_only_hides_lower_layers()
    {
        var contents = await ReadAsync(
        [
            [new LayerEntry.File("var/lib/dpkg/status", "Package: a\nStatus: install ok installed\nVersion: 1\n")],
            [new LayerEntry.File("var/lib/dpkg/status", "Package: a\nStatus: install ok installed\nVersion: 2\n")],
            // A layer whiting out the status file and writing a new one: the new one stands.
            [new LayerEntry.Whiteout("var/lib/dpkg/status"), new LayerEntry.File("var/lib/dpkg/status", "Package: b\nStatus: install ok installed\nVersion: 3\n")],
            [new LayerEntry.File("var/lib/dpkg/status.d/base", "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n"),
             new LayerEntry.File("var/lib/dpkg/status.d/base.md5sums", "d41d8cd98f00b204e9800998ecf8427e  etc/issue\n")],
        ]);
        Assert.Equal(["b 3", "base-files 12.4+deb12u5"], contents.Packages.Select(p => $"{p.Name} {p.Version}"));
    }

    [Fact]
    public async Task A_package_file_larger_than_the_bound_fails_the_read_with_its_name()
    {
        var files = new ImageFiles(maxFileBytes: 100);
        using var tar = new MemoryStream(ScanTestImages.Tar([new LayerEntry.File("var/lib/dpkg/status", ScanTestImages.DpkgStatus)]));
        var e = await Assert.ThrowsAsync<Wave.Core.Scans.ScanException>(() => files.AddLayerAsync(tar, TestContext.Current.CancellationToken));
        Assert.Contains("var/lib/dpkg/status", e.Message);
    }

    [Fact]
    public async Task This_machines_dpkg_database_reads_as_dpkg_query_lists_it()
    {
        var dpkgQuery = Requirements.Binary("dpkg-query", "dpkg");
        var listed = (await TestProcess.RunAsync(dpkgQuery, ["-W", "-f", "${db:Status-Status} ${Package} ${Version} ${Architecture}\\n"]))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.StartsWith("installed ", StringComparison.Ordinal))
            .Select(l => l["installed ".Length..])
            .Order(StringComparer.Ordinal)
            .ToList();
        var contents = await ReadAsync([[new LayerEntry.File("var/lib/dpkg/status", await File.ReadAllTextAsync("/var/lib/dpkg/status", TestContext.Current.CancellationToken))]]);

        Assert.True(listed.Count > 100, $"dpkg-query listed {listed.Count} installed packages");
        Assert.Equal(listed, contents.Packages.Select(p => $"{p.Name} {p.Version} {p.Architecture}").Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task This_machines_python_distributions_read_as_the_interpreter_lists_them()
    {
        const string sitePackages = "/usr/lib/python3/dist-packages";
        Assert.True(Directory.Exists(sitePackages), "Debian's python3 is not installed: apt-get install -y python3-packaging");
        var entries = new List<LayerEntry>();
        foreach (var path in Directory.EnumerateFileSystemEntries(sitePackages).Where(p => p.EndsWith(".dist-info", StringComparison.Ordinal) || p.EndsWith(".egg-info", StringComparison.Ordinal)))
        {
            var file = Directory.Exists(path)
                ? Path.Combine(path, path.EndsWith(".dist-info", StringComparison.Ordinal) ? "METADATA" : "PKG-INFO")
                : path;
            if (File.Exists(file))
            {
                entries.Add(new LayerEntry.File(Path.GetRelativePath("/", file), await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken)));
            }
        }
        var program = Path.Combine(Directory.CreateTempSubdirectory("wave-pymeta-").FullName, "list.py");
        await File.WriteAllTextAsync(program, """
            import importlib.metadata, sys
            for d in importlib.metadata.distributions(path=[sys.argv[1]]):
                print(d.metadata["Name"], d.version)
            """, TestContext.Current.CancellationToken);
        var listed = (await TestProcess.RunAsync("/usr/bin/python3", [program, sitePackages])).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Distinct().Order(StringComparer.Ordinal).ToList();
        var contents = await ReadAsync([entries]);

        Assert.True(listed.Count > 3, $"the interpreter listed {listed.Count} distributions");
        Assert.Equal(listed, contents.Packages.Select(p => $"{p.Name} {p.Version}").Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Package_urls_follow_the_purl_specification()
    {
        var debian = await ReadAsync(ScanTestImages.DebianCondaLayers());
        var alpine = await ReadAsync(ScanTestImages.AlpineLayers());
        string Purl(ImageContents c, string name) => PackageUrl.For(c.Packages.First(p => p.Name == name), c.Distribution);

        Assert.Equal("pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12", Purl(debian, "libssl3"));
        Assert.Equal("pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12", Purl(debian, "zlib1g"));
        Assert.Equal("pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12", Purl(debian, "libc6"));
        Assert.Equal("pkg:conda/numpy@1.26.4?build=py311h64a7726_0&channel=conda-forge&subdir=linux-64", Purl(debian, "numpy"));
        Assert.Equal("pkg:apk/alpine/musl@1.2.4-r1?arch=x86_64&distro=3.18.4", Purl(alpine, "musl"));
        Assert.Equal("pkg:pypi/pyyaml@6.0.1", Purl(alpine, "PyYAML"));
        Assert.Equal("pkg:oci/busybox@sha256%3Aab12?arch=arm64&repository_url=localhost:5000/library/busybox",
            PackageUrl.ForImage("localhost:5000", "library/busybox", "sha256:ab12", "arm64"));
    }

    [Fact]
    public async Task The_SPDX_document_has_the_golden_shape()
    {
        var contents = await ReadAsync(ScanTestImages.DebianCondaLayers());
        var subject = new SbomSubject("registry.example:5000/tools/analysis:1.0", "registry.example:5000", "tools/analysis",
            "sha256:0f3ad8e1c2b4a6d8e0f1a3c5b7d9e1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5", "linux/amd64");
        var spdx = SpdxDocument.Write(subject, contents, new DateTimeOffset(2024, 3, 1, 12, 30, 45, 123, TimeSpan.Zero),
            "urn:uuid:6f1c9d3e-8a7b-4c2d-9e0f-1a2b3c4d5e6f", "wave-0.1.0");
        var text = Encoding.UTF8.GetString(spdx);
        Wave.Tests.Builds.Domain.Golden.AssertMatches("debian-conda.spdx.json.txt", text);

        // What every SPDX 2.3 reader relies on, checked on the document itself.
        using var document = JsonDocument.Parse(spdx);
        var root = document.RootElement;
        Assert.Equal("SPDX-2.3", root.GetProperty("spdxVersion").GetString());
        var packages = root.GetProperty("packages").EnumerateArray().ToList();
        var ids = packages.Select(p => p.GetProperty("SPDXID").GetString()!).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(ids, id => Assert.Matches("^SPDXRef-[A-Za-z0-9.-]+$", id));
        Assert.Equal(contents.Packages.Count + 2, packages.Count); // the image, the distribution, the packages
        var relationships = root.GetProperty("relationships").EnumerateArray().ToList();
        Assert.Contains(relationships, r => r.GetProperty("relationshipType").GetString() == "DESCRIBES" && r.GetProperty("relatedSpdxElement").GetString() == "SPDXRef-ContainerImage");
        Assert.Equal(packages.Count - 1, relationships.Count(r => r.GetProperty("relationshipType").GetString() == "CONTAINS"));
        Assert.All(relationships, r => Assert.Contains(r.GetProperty("relatedSpdxElement").GetString(), ids));
    }
}
