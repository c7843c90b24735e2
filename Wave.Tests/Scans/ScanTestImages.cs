using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json;

using Wave.Tests.Infrastructure;

namespace Wave.Tests.Scans;

/// <summary>One entry of a test layer: a file, a symbolic or hard link, or a whiteout.</summary>
public abstract record LayerEntry(string Path)
{
    public sealed record File(string Path, string Content) : LayerEntry(Path);
    public sealed record Symlink(string Path, string Target) : LayerEntry(Path);
    public sealed record HardLink(string Path, string Target) : LayerEntry(Path);
    /// <summary><c>dir/.wh.name</c>: removes <c>dir/name</c> of the layers below.</summary>
    public sealed record Whiteout(string Path) : LayerEntry(Path);
    /// <summary><c>dir/.wh..wh..opq</c>: hides everything below had in <c>dir</c>.</summary>
    public sealed record Opaque(string Path) : LayerEntry(Path);
}

/// <summary>
/// Images as distributions lay them out: package databases with the fields and formatting dpkg, apk, conda and pip
/// write (the paragraphs are those of real packages), as gzip tar layers, pushed to the suite's registry.
/// </summary>
public static class ScanTestImages
{
    public const string DebianOsRelease = """
        PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
        NAME="Debian GNU/Linux"
        VERSION_ID="12"
        VERSION="12 (bookworm)"
        VERSION_CODENAME=bookworm
        ID=debian
        HOME_URL="https://www.debian.org/"

        """;

    public const string DpkgStatus = """
        Package: libc6
        Status: install ok installed
        Priority: optional
        Section: libs
        Installed-Size: 12987
        Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
        Architecture: amd64
        Multi-Arch: same
        Source: glibc
        Version: 2.36-9+deb12u4
        Replaces: libc6-amd64
        Depends: libgcc-s1
        Recommends: libidn2-0 (>= 2.0.5~)
        Description: GNU C Library: Shared libraries
         Contains the standard libraries that are used by nearly all programs on
         the system. This package includes shared versions of the standard C library
         and the standard math library, as well as many others.
        Homepage: https://www.gnu.org/software/libc/libc.html

        Package: libssl3
        Status: install ok installed
        Priority: optional
        Section: libs
        Installed-Size: 6143
        Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
        Architecture: amd64
        Multi-Arch: same
        Source: openssl
        Version: 3.0.11-1~deb12u2
        Depends: libc6 (>= 2.34)
        Description: Secure Sockets Layer toolkit - shared libraries
         This package is part of the OpenSSL project's implementation of the SSL and
         TLS cryptographic protocols for secure communication over the Internet.
        Homepage: https://www.openssl.org/

        Package: zlib1g
        Status: install ok installed
        Priority: optional
        Section: libs
        Installed-Size: 168
        Maintainer: Mark Brown <broonie@debian.org>
        Architecture: amd64
        Multi-Arch: same
        Source: zlib
        Version: 1:1.2.13.dfsg-1
        Provides: libz1
        Depends: libc6 (>= 2.14)
        Description: compression library - runtime
         zlib is a library implementing the deflate compression method found
         in gzip and PKZIP.  This package includes the shared library.
        Homepage: http://zlib.net/

        Package: bash
        Essential: yes
        Status: install ok installed
        Priority: required
        Section: shells
        Installed-Size: 7163
        Maintainer: Matthias Klose <doko@debian.org>
        Architecture: amd64
        Multi-Arch: foreign
        Source: bash (5.2.15-2)
        Version: 5.2.15-2+b2
        Description: GNU Bourne Again SHell

        Package: libgcrypt20
        Status: deinstall ok config-files
        Priority: optional
        Section: libs
        Architecture: amd64
        Version: 1.10.1-3
        Description: LGPL Crypto library - runtime library

        """;

    public const string AlpineOsRelease = """
        NAME="Alpine Linux"
        ID=alpine
        VERSION_ID=3.18.4
        PRETTY_NAME="Alpine Linux v3.18"
        HOME_URL="https://alpinelinux.org/"

        """;

    public const string ApkInstalled = """
        C:Q1lGnHa1c3kmTMd/r7BZbQmtvA6Gk=
        P:musl
        V:1.2.4-r1
        A:x86_64
        S:383152
        I:622592
        T:the musl c library (libc) implementation
        U:https://musl.libc.org/
        L:MIT
        o:musl
        m:Timo Teräs <timo.teras@iki.fi>
        t:1685600453
        c:a5cb8ed2c8a9ab4f27ab8d5f3f4d1d5bb7c3a1a3
        F:lib
        R:ld-musl-x86_64.so.1
        a:0:0:755
        Z:Q1tS6qNuc2dY3RWUuU1clpFW2Mcg4=
        R:libc.musl-x86_64.so.1

        C:Q1BvkKdZaSEEHFOnk4n2RKSbMp/tA=
        P:libcrypto3
        V:3.1.2-r0
        A:x86_64
        S:1701046
        I:4411392
        T:Crypto library from openssl
        U:https://www.openssl.org/
        L:Apache-2.0
        o:openssl
        m:Ariadne Conill <ariadne@dereferenced.org>
        t:1691409876
        c:9e07b8b7d4d5aa0c56b8f22a4e8a27a8d3ac5d4b
        D:so:libc.musl-x86_64.so.1
        F:usr/lib
        R:libcrypto.so.3

        C:Q1h8dv0ibTHQzzZ5bqc7aQDBxw3d4=
        P:busybox
        V:1.36.1-r2
        A:x86_64
        S:507829
        I:959488
        T:Size optimized toolbox of many common UNIX utilities
        U:https://busybox.net/
        L:GPL-2.0-only
        o:busybox
        m:Sören Tempel <soeren+alpine@soeren-tempel.net>
        t:1689769393
        c:0b6d7c8f60ac6f1d9c1d2b1a40a1db1b4ad5f4a7
        F:bin
        R:busybox

        """;

    /// <summary>A conda-meta record as conda and micromamba write it.</summary>
    public static string CondaRecord(string name, string version, string build, string license) => JsonSerializer.Serialize(new
    {
        build,
        build_number = 0,
        channel = "https://conda.anaconda.org/conda-forge/linux-64",
        depends = Array.Empty<string>(),
        fn = $"{name}-{version}-{build}.conda",
        license,
        md5 = "5d3c1f8b5b3a1e7d0c7e8b0f5a1d9c2e",
        name,
        subdir = "linux-64",
        timestamp = 1707225358000L,
        url = $"https://conda.anaconda.org/conda-forge/linux-64/{name}-{version}-{build}.conda",
        version,
        files = new[] { $"lib/{name}" },
        requested_spec = name,
    }, new JsonSerializerOptions { WriteIndented = true });

    /// <summary>The header block of a wheel's METADATA, as pip installs it.</summary>
    public static string PythonMetadata(string name, string version, string license) => $"""
        Metadata-Version: 2.1
        Name: {name}
        Version: {version}
        Summary: The {name} distribution
        License: {license}
        Classifier: Programming Language :: Python :: 3
        Requires-Python: >=3.8

        Description text that is not a header.
        Name: not-this-one

        """;

    /// <summary>
    /// A Debian image with a Conda environment: Debian's dpkg database and os-release (a link, as in Debian), a conda
    /// environment with numpy, python and requests (and requests' wheel metadata), then a layer that removes urllib3's
    /// distribution and an old conda record with whiteouts, and hides a folder with an opaque whiteout.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<LayerEntry>> DebianCondaLayers() =>
    [
        [
            new LayerEntry.File("usr/lib/os-release", DebianOsRelease),
            new LayerEntry.Symlink("etc/os-release", "../usr/lib/os-release"),
            new LayerEntry.File("etc/debian_version", "12.5\n"),
            new LayerEntry.File("var/lib/dpkg/status", DpkgStatus),
            new LayerEntry.File("usr/bin/bash", "not really a shell"),
        ],
        [
            new LayerEntry.File("opt/conda/conda-meta/numpy-1.26.4-py311h64a7726_0.json", CondaRecord("numpy", "1.26.4", "py311h64a7726_0", "BSD-3-Clause")),
            new LayerEntry.File("opt/conda/conda-meta/python-3.11.8-hab00c5b_0_cpython.json", CondaRecord("python", "3.11.8", "hab00c5b_0_cpython", "Python-2.0")),
            new LayerEntry.File("opt/conda/conda-meta/requests-2.31.0-pyhd8ed1ab_0.json", CondaRecord("requests", "2.31.0", "pyhd8ed1ab_0", "Apache-2.0")),
            new LayerEntry.File("opt/conda/conda-meta/openssl-3.1.0-hd590300_0.json", CondaRecord("openssl", "3.1.0", "hd590300_0", "Apache-2.0")),
            new LayerEntry.File("opt/conda/conda-meta/history", "==> 2024-02-06 13:15:58 <==\n"),
            new LayerEntry.File("opt/conda/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA", PythonMetadata("requests", "2.31.0", "Apache 2.0")),
            new LayerEntry.File("opt/conda/lib/python3.11/site-packages/requests-2.31.0.dist-info/RECORD", "requests/__init__.py,,\n"),
            new LayerEntry.File("opt/conda/lib/python3.11/site-packages/urllib3-1.26.5.dist-info/METADATA", PythonMetadata("urllib3", "1.26.5", "MIT")),
            new LayerEntry.File("opt/legacy/lib/python3.11/site-packages/Jinja2-2.10.egg-info/PKG-INFO", PythonMetadata("Jinja2", "2.10", "BSD")),
        ],
        [
            new LayerEntry.Whiteout("opt/conda/lib/python3.11/site-packages/urllib3-1.26.5.dist-info"),
            new LayerEntry.Whiteout("opt/conda/conda-meta/openssl-3.1.0-hd590300_0.json"),
            new LayerEntry.File("opt/conda/conda-meta/openssl-3.2.1-hd590300_0.json", CondaRecord("openssl", "3.2.1", "hd590300_0", "Apache-2.0")),
            new LayerEntry.Opaque("opt/legacy/"),
            new LayerEntry.File("opt/legacy/README", "nothing installed here any more"),
        ],
    ];

    /// <summary>An Alpine image: apk's database, os-release, and a Python distribution installed with pip.</summary>
    public static IReadOnlyList<IReadOnlyList<LayerEntry>> AlpineLayers() =>
    [
        [
            new LayerEntry.File("etc/os-release", AlpineOsRelease),
            new LayerEntry.File("etc/alpine-release", "3.18.4\n"),
            new LayerEntry.File("lib/apk/db/installed", ApkInstalled),
        ],
        [
            new LayerEntry.File("usr/lib/python3.11/site-packages/PyYAML-6.0.1.dist-info/METADATA", PythonMetadata("PyYAML", "6.0.1", "MIT")),
            new LayerEntry.HardLink("usr/lib/python3.11/site-packages/pyyaml-copy.egg-info", "usr/lib/python3.11/site-packages/PyYAML-6.0.1.dist-info/METADATA"),
        ],
    ];

    /// <summary>An uncompressed tar of the entries (parent folders added), entries dated 2024-01-01.</summary>
    public static byte[] Tar(IEnumerable<LayerEntry> entries)
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            var time = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
            var directories = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in entries)
            {
                var parts = entry.Path.TrimEnd('/').Split('/');
                for (var i = 1; i < parts.Length; i++)
                {
                    var directory = string.Join('/', parts[..i]) + "/";
                    if (directories.Add(directory))
                    {
                        writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, directory) { Mode = (UnixFileMode)0b111_101_101, ModificationTime = time });
                    }
                }
                switch (entry)
                {
                    case LayerEntry.File file:
                        writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, file.Path)
                        {
                            Mode = (UnixFileMode)0b110_100_100,
                            ModificationTime = time,
                            DataStream = new MemoryStream(Encoding.UTF8.GetBytes(file.Content)),
                        });
                        break;
                    case LayerEntry.Symlink link:
                        writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, link.Path) { LinkName = link.Target, ModificationTime = time });
                        break;
                    case LayerEntry.HardLink link:
                        writer.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, link.Path) { LinkName = link.Target, ModificationTime = time });
                        break;
                    case LayerEntry.Whiteout whiteout:
                        var slash = whiteout.Path.LastIndexOf('/');
                        writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, whiteout.Path[..(slash + 1)] + ".wh." + whiteout.Path[(slash + 1)..]) { ModificationTime = time });
                        break;
                    case LayerEntry.Opaque opaque:
                        writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, opaque.Path + ".wh..wh..opq") { ModificationTime = time });
                        break;
                }
            }
        }
        return tar.ToArray();
    }

    public static byte[] Gzip(byte[] tar)
    {
        using var gzip = new MemoryStream();
        using (var compressor = new GZipStream(gzip, CompressionLevel.Optimal, leaveOpen: true))
        {
            compressor.Write(tar);
        }
        return gzip.ToArray();
    }

    /// <summary>Pushes the layers as a linux/amd64 Docker v2 image of gzip layers; returns <c>host/repository:tag</c>.</summary>
    public static async Task<string> PushAsync(RegistryServer registry, string repository, string tag, IReadOnlyList<IReadOnlyList<LayerEntry>> layers)
    {
        using var pusher = new RegistryPusher(registry);
        await pusher.PushImageAsync(repository, tag, [.. layers.Select(l => Gzip(Tar(l)))], TestContext.Current.CancellationToken);
        return $"{registry.Host}/{repository}:{tag}";
    }
}
