using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace Wave.Tests.Scans;

/// <summary>
/// A small vulnerability database in the OSV format, shaped like the advisories OSV publishes for each ecosystem
/// (Debian's, Alpine's, the GitHub advisories for PyPI), written by the test as a folder, a .zip or a .tar.gz.
/// </summary>
public static class TestOsvDatabase
{
    /// <summary>What the test images should be found to have, given this database: id → (package, severity, fixed version).</summary>
    public static readonly IReadOnlyDictionary<string, (string Package, string Severity, string Fixed)> ExpectedDebianConda = new Dictionary<string, (string, string, string)>
    {
        ["DEBIAN-CVE-2023-5678"] = ("libssl3", "MEDIUM", "3.0.13-1~deb12u1"),
        ["DEBIAN-CVE-2024-0001"] = ("bash", "HIGH", "5.2.15-3"),
        ["GHSA-9wx4-h78v-vm56"] = ("requests", "MEDIUM", "2.32.0"),
        ["WAVE-CONDA-2024-0001"] = ("numpy", "CRITICAL", ""),
        ["WAVE-CONDA-2024-0002"] = ("python", "LOW", "3.11.9"),
    };

    public static readonly IReadOnlyDictionary<string, (string Package, string Severity, string Fixed)> ExpectedAlpine = new Dictionary<string, (string, string, string)>
    {
        ["ALPINE-CVE-2023-3817"] = ("libcrypto3", "HIGH", "3.1.2-r1"),
        ["PYSEC-2024-0001"] = ("PyYAML", "UNKNOWN", "6.0.2"),
    };

    public static IReadOnlyList<(string Name, string Json)> Files() =>
    [
        ("debian/DEBIAN-CVE-2023-5678.json", Json(new
        {
            schema_version = "1.6.0",
            id = "DEBIAN-CVE-2023-5678",
            modified = "2024-02-01T10:00:00Z",
            published = "2023-11-06T16:15:42Z",
            summary = "openssl: excessive time spent in DH check / generation with large Q parameter value",
            details = "Generating excessively long X9.42 DH keys or checking excessively long X9.42 DH keys or parameters may be very slow.",
            aliases = new[] { "CVE-2023-5678" },
            severity = new[] { new { type = "CVSS_V3", score = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L" } },
            affected = new[]
            {
                new
                {
                    package = new { ecosystem = "Debian:12", name = "openssl", purl = "pkg:deb/debian/openssl?arch=source" },
                    ranges = new[] { new { type = "ECOSYSTEM", events = new object[] { new { introduced = "0" }, new { @fixed = "3.0.13-1~deb12u1" } } } },
                },
            },
            references = new[] { new { type = "ADVISORY", url = "https://security-tracker.debian.org/tracker/CVE-2023-5678" } },
        })),
        // Fixed in the version installed: not a finding.
        ("debian/DEBIAN-CVE-2022-37434.json", Json(new
        {
            id = "DEBIAN-CVE-2022-37434",
            summary = "zlib: heap-based buffer over-read in inflate",
            affected = new[]
            {
                new
                {
                    package = new { ecosystem = "Debian:12", name = "zlib" },
                    ranges = new[] { new { type = "ECOSYSTEM", events = new object[] { new { introduced = "0" }, new { @fixed = "1:1.2.13.dfsg-1" } } } },
                },
            },
            severity = new[] { new { type = "CVSS_V3", score = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" } },
        })),
        // Another Debian release: not this image's.
        ("debian/DEBIAN-CVE-2023-4911.json", Json(new
        {
            id = "DEBIAN-CVE-2023-4911",
            summary = "glibc: buffer overflow in ld.so leading to privilege escalation",
            affected = new[]
            {
                new
                {
                    package = new { ecosystem = "Debian:11", name = "glibc" },
                    ranges = new[] { new { type = "ECOSYSTEM", events = new object[] { new { introduced = "0" }, new { @fixed = "2.31-13+deb11u7" } } } },
                },
            },
            severity = new[] { new { type = "CVSS_V3", score = "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H" } },
        })),
        // Matched by the source package's version (bash 5.2.15-2+b2 is built from 5.2.15-2), rated by Debian's own severity.
        ("debian/DEBIAN-CVE-2024-0001.json", Json(new
        {
            id = "DEBIAN-CVE-2024-0001",
            details = "bash: a made-up flaw for the test\nMore details.",
            affected = new[]
            {
                new
                {
                    package = new { ecosystem = "Debian", name = "bash" },
                    ranges = new[] { new { type = "ECOSYSTEM", events = new object[] { new { introduced = "5.0-1" }, new { last_affected = "5.2.15-2" }, new { @fixed = "5.2.15-3" } } } },
                    database_specific = new { severity = "high" },
                },
            },
        })),
        // Withdrawn: ignored.
        ("debian/DEBIAN-CVE-2024-9999.json", Json(new
        {
            id = "DEBIAN-CVE-2024-9999",
            withdrawn = "2024-02-02T00:00:00Z",
            affected = new[] { new { package = new { ecosystem = "Debian:12", name = "openssl" }, versions = new[] { "3.0.11-1~deb12u2" } } },
        })),
        ("pypi/GHSA-9wx4-h78v-vm56.json", Json(new
        {
            id = "GHSA-9wx4-h78v-vm56",
            summary = "Requests `Session` object does not verify requests after making first request with verify=False",
            aliases = new[] { "CVE-2024-35195" },
            affected = new[]
            {
                new
                {
                    package = new { ecosystem = "PyPI", name = "requests", purl = "pkg:pypi/requests" },
                    ranges = new[] { new { type = "ECOSYSTEM", events = new object[] { new { introduced = "0" }, new { @fixed = "2.32.0" } } } },
                },
            },
            severity = new[] { new { type = "CVSS_V3", score = "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N" } },
            database_specific = new { severity = "MODERATE", github_reviewed = true },
            references = new[] { new { type = "WEB", url = "https://github.com/psf/requests/security/advisories/GHSA-9wx4-h78v-vm56" } },
        })),
        // urllib3's distribution was removed by a whiteout: no finding.
        ("pypi/GHSA-v845-jxx5-vc9f.json", Json(new
        {
            id = "GHSA-v845-jxx5-vc9f",
            summary = "urllib3 does not strip Cookie header on cross-origin redirect",
            affected = new[]
            {
                new
                {
                    package = new { ecosystem = "PyPI", name = "urllib3" },
                    ranges = new[] { new { type = "ECOSYSTEM", events = new object[] { new { introduced = "0" }, new { @fixed = "1.26.17" } } } },
                },
            },
            database_specific = new { severity = "HIGH" },
        })),
        // PyYAML's PyPI name in another spelling, and a CVSS v4 vector only: UNKNOWN.
        ("pypi/PYSEC-2024-0001.json", Json(new
        {
            id = "PYSEC-2024-0001",
            summary = "pyyaml: a made-up flaw for the test",
            affected = new[]
            {
                new
                {
                    package = new { ecosystem = "PyPI", name = "pyyaml" },
                    ranges = new[] { new { type = "ECOSYSTEM", events = new object[] { new { introduced = "5.1" }, new { @fixed = "6.0.2" } } } },
                },
            },
            severity = new[] { new { type = "CVSS_V4", score = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N" } },
        })),
        ("conda/WAVE-CONDA-2024-0001.json", Json(new
        {
            id = "WAVE-CONDA-2024-0001",
            summary = "numpy: a made-up flaw in listed conda builds",
            affected = new[] { new { package = new { ecosystem = "conda", name = "numpy" }, versions = new[] { "1.26.3", "1.26.4" } } },
            severity = new[] { new { type = "CVSS_V3", score = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" } },
        })),
        ("conda/WAVE-CONDA-2024-0002.json", Json(new
        {
            id = "WAVE-CONDA-2024-0002",
            summary = "python: a made-up flaw in a SEMVER range",
            affected = new[]
            {
                new
                {
                    package = new { ecosystem = "conda", name = "python" },
                    ranges = new[] { new { type = "SEMVER", events = new object[] { new { introduced = "3.11.0" }, new { @fixed = "3.11.9" } } } },
                },
            },
            database_specific = new { severity = "LOW" },
        })),
        ("alpine/ALPINE-CVE-2023-3817.json", Json(new
        {
            id = "ALPINE-CVE-2023-3817",
            details = "Checking excessively long DH keys or parameters may be very slow.",
            affected = new[]
            {
                new
                {
                    package = new { ecosystem = "Alpine:v3.18", name = "openssl" },
                    ranges = new[] { new { type = "ECOSYSTEM", events = new object[] { new { introduced = "0" }, new { @fixed = "3.1.2-r1" } } } },
                },
            },
            severity = new[] { new { type = "CVSS_V2", score = "AV:N/AC:L/Au:N/C:P/I:P/A:P" } },
        })),
        // Alpine 3.17's musl: another release.
        ("alpine/ALPINE-CVE-2023-0002.json", Json(new
        {
            id = "ALPINE-CVE-2023-0002",
            affected = new[]
            {
                new
                {
                    package = new { ecosystem = "Alpine:v3.17", name = "musl" },
                    ranges = new[] { new { type = "ECOSYSTEM", events = new object[] { new { introduced = "0" }, new { @fixed = "1.2.4-r2" } } } },
                },
            },
            database_specific = new { severity = "critical" },
        })),
        ("README.md.json", "this file is not an OSV advisory"),
    ];

    private static string Json(object value) => JsonSerializer.Serialize(value, new JsonSerializerOptions { WriteIndented = true });

    public static string WriteFolder(string root)
    {
        foreach (var (name, json) in Files())
        {
            var path = Path.Combine(root, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, json);
        }
        return root;
    }

    public static string WriteZip(string path)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, json) in Files())
        {
            using var stream = zip.CreateEntry(name).Open();
            stream.Write(Encoding.UTF8.GetBytes(json));
        }
        return path;
    }

    public static string WriteTarGz(string path)
    {
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        using var tar = new TarWriter(gzip, TarEntryFormat.Pax);
        foreach (var (name, json) in Files())
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(json)) });
        }
        return path;
    }
}
