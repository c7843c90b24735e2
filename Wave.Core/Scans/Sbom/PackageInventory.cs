using System.Text;
using System.Text.Json;

namespace Wave.Core.Scans.Sbom;

/// <summary>
/// Reads the package records out of an image's metadata files (<see cref="ImageFiles"/>): dpkg's status paragraphs,
/// apk's installed database, Conda's per-package JSON records and Python's core metadata headers. A file that cannot
/// be read is reported in <see cref="ImageContents.Problems"/> instead of failing the whole inventory.
/// </summary>
public static class PackageInventory
{
    public static ImageContents Read(IReadOnlyDictionary<string, byte[]> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var packages = new List<InstalledPackage>();
        var problems = new List<string>();
        foreach (var (path, content) in files)
        {
            try
            {
                if (path == "var/lib/dpkg/status" || path.StartsWith("var/lib/dpkg/status.d/", StringComparison.Ordinal))
                {
                    packages.AddRange(ReadDpkg(path, Text(content), requireInstalled: path == "var/lib/dpkg/status"));
                }
                else if (path == "lib/apk/db/installed")
                {
                    packages.AddRange(ReadApk(path, Text(content)));
                }
                else if (path.EndsWith(".json", StringComparison.Ordinal) && path.Contains("conda-meta/", StringComparison.Ordinal))
                {
                    if (ReadConda(path, content) is { } conda)
                    {
                        packages.Add(conda);
                    }
                }
                else if (path.EndsWith("/METADATA", StringComparison.Ordinal) || path.EndsWith("/PKG-INFO", StringComparison.Ordinal)
                    || path.EndsWith(".egg-info", StringComparison.Ordinal))
                {
                    if (ReadPython(path, Text(content)) is { } python)
                    {
                        packages.Add(python);
                    }
                    else
                    {
                        problems.Add($"{path}: no Name and Version header");
                    }
                }
            }
            catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
            {
                problems.Add($"{path}: {e.Message}");
            }
        }
        var ordered = packages
            .DistinctBy(p => (p.Kind, p.Name, p.Version, p.Location, p.Architecture))
            .OrderBy(p => p.Kind)
            .ThenBy(p => p.Name, StringComparer.Ordinal)
            .ThenBy(p => p.Version, StringComparer.Ordinal)
            .ThenBy(p => p.Location, StringComparer.Ordinal)
            .ThenBy(p => p.Architecture, StringComparer.Ordinal)
            .ToList();
        return new ImageContents(ReadDistribution(files), ordered, problems);
    }

    private static string Text(byte[] content) => Encoding.UTF8.GetString(content);

    /// <summary>dpkg's RFC 822-style paragraphs; with <paramref name="requireInstalled"/>, only those whose Status says installed.</summary>
    internal static IEnumerable<InstalledPackage> ReadDpkg(string path, string text, bool requireInstalled)
    {
        foreach (var fields in Paragraphs(text))
        {
            if (!fields.TryGetValue("Package", out var name) || !fields.TryGetValue("Version", out var version))
            {
                continue;
            }
            if (fields.TryGetValue("Status", out var status))
            {
                // "want flag state": only the state "installed" means the files are there.
                var words = status.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (words.Length != 3 || words[2] != "installed")
                {
                    continue;
                }
            }
            else if (requireInstalled)
            {
                continue;
            }
            string? sourceName = null;
            string? sourceVersion = null;
            if (fields.TryGetValue("Source", out var source) && source.Length > 0)
            {
                // "Source: glibc" or, when the source version differs from the binary's, "Source: glibc (2.36-9)".
                var open = source.IndexOf('(');
                sourceName = (open < 0 ? source : source[..open]).Trim();
                if (open >= 0 && source.IndexOf(')', open) is var close and > 0)
                {
                    sourceVersion = source[(open + 1)..close].Trim();
                }
            }
            yield return new InstalledPackage
            {
                Kind = PackageKind.Dpkg,
                Name = name,
                Version = version,
                Location = path,
                SourceName = sourceName,
                SourceVersion = sourceVersion,
                Architecture = fields.GetValueOrDefault("Architecture"),
            };
        }
    }

    /// <summary>apk's database: one block per package, one <c>K:value</c> line per field, blocks separated by an empty line.</summary>
    internal static IEnumerable<InstalledPackage> ReadApk(string path, string text)
    {
        var fields = new Dictionary<char, string>();
        foreach (var raw in text.Split('\n').Append(""))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                if (fields.TryGetValue('P', out var name) && fields.TryGetValue('V', out var version))
                {
                    yield return new InstalledPackage
                    {
                        Kind = PackageKind.Apk,
                        Name = name,
                        Version = version,
                        Location = path,
                        SourceName = fields.GetValueOrDefault('o'),
                        Architecture = fields.GetValueOrDefault('A'),
                        License = fields.GetValueOrDefault('L'),
                    };
                }
                fields.Clear();
                continue;
            }
            if (line.Length >= 2 && line[1] == ':')
            {
                // A block lists a package's files (F:, R:) after its fields; only the first value of a key counts.
                fields.TryAdd(line[0], line[2..]);
            }
        }
    }

    /// <summary>A Conda package record: <c>name</c>, <c>version</c>, <c>build</c>, <c>channel</c> (a URL or a name), <c>subdir</c>, <c>license</c>.</summary>
    internal static InstalledPackage? ReadConda(string path, byte[] content)
    {
        using var document = JsonDocument.Parse(content);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || String(root, "name") is not { } name || String(root, "version") is not { } version)
        {
            return null;
        }
        return new InstalledPackage
        {
            Kind = PackageKind.Conda,
            Name = name,
            Version = version,
            Location = path,
            Build = String(root, "build"),
            Channel = ChannelName(String(root, "channel")),
            Subdir = String(root, "subdir"),
            License = String(root, "license"),
        };
    }

    /// <summary>Python core metadata: e-mail style headers up to the first empty line (the description follows).</summary>
    internal static InstalledPackage? ReadPython(string path, string text)
    {
        string? name = null, version = null, license = null;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                break;
            }
            var colon = line.IndexOf(':');
            if (colon <= 0 || char.IsWhiteSpace(line[0]))
            {
                continue;
            }
            var value = line[(colon + 1)..].Trim();
            switch (line[..colon])
            {
                case "Name":
                    name ??= value;
                    break;
                case "Version":
                    version ??= value;
                    break;
                case "License-Expression":
                    license = value;
                    break;
                case "License" when license is null && value.Length > 0 && value != "UNKNOWN":
                    license = value;
                    break;
            }
        }
        return string.IsNullOrEmpty(name) || string.IsNullOrEmpty(version)
            ? null
            : new InstalledPackage { Kind = PackageKind.Python, Name = name, Version = version, Location = path, License = license };
    }

    internal static Distribution? ReadDistribution(IReadOnlyDictionary<string, byte[]> files)
    {
        var osRelease = files.GetValueOrDefault("etc/os-release") ?? files.GetValueOrDefault("usr/lib/os-release");
        if (osRelease is not null)
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var raw in Text(osRelease).Split('\n'))
            {
                var line = raw.Trim();
                var equals = line.IndexOf('=');
                if (line.StartsWith('#') || equals <= 0)
                {
                    continue;
                }
                var value = line[(equals + 1)..].Trim();
                if (value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[^1] == value[0])
                {
                    value = value[1..^1].Replace("\\\"", "\"", StringComparison.Ordinal);
                }
                values[line[..equals]] = value;
            }
            if (values.TryGetValue("ID", out var id) && id.Length > 0)
            {
                return new Distribution(id.ToLowerInvariant(), values.GetValueOrDefault("VERSION_ID"), values.GetValueOrDefault("PRETTY_NAME"));
            }
        }
        if (files.GetValueOrDefault("etc/alpine-release") is { } alpine)
        {
            return new Distribution("alpine", Text(alpine).Trim(), null);
        }
        if (files.GetValueOrDefault("etc/debian_version") is { } debian)
        {
            // "12.5" for a release, "trixie/sid" for testing
            var text = Text(debian).Trim();
            var major = text.Split('.')[0];
            return new Distribution("debian", major.All(char.IsAsciiDigit) && major.Length > 0 ? major : null, null);
        }
        return null;
    }

    /// <summary>The channel's name from its URL (<c>https://conda.anaconda.org/conda-forge/linux-64</c> → <c>conda-forge</c>).</summary>
    private static string? ChannelName(string? channel)
    {
        if (string.IsNullOrEmpty(channel) || !Uri.TryCreate(channel, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            return string.IsNullOrEmpty(channel) ? null : channel;
        }
        var segments = uri.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries).ToList();
        if (segments.Count > 1 && IsSubdir(segments[^1]))
        {
            segments.RemoveAt(segments.Count - 1); // the platform subdirectory
        }
        return segments.Count > 0 ? string.Join('/', segments) : uri.Host;
    }

    /// <summary>conda's platform subdirectories: <c>noarch</c> and <c>os-arch</c> (linux-64, osx-arm64, win-64, linux-aarch64, …).</summary>
    private static bool IsSubdir(string segment)
    {
        if (segment == "noarch")
        {
            return true;
        }
        var dash = segment.IndexOf('-');
        return dash > 0 && segment[..dash] is "linux" or "osx" or "win" or "emscripten" or "wasi" or "zos" or "freebsd";
    }

    private static string? String(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text ? text : null;

    /// <summary>dpkg control paragraphs: <c>Field: value</c>, continuation lines start with white space, paragraphs end at an empty line.</summary>
    private static IEnumerable<Dictionary<string, string>> Paragraphs(string text)
    {
        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        string? last = null;
        foreach (var raw in text.Split('\n').Append(""))
        {
            var line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0)
            {
                if (fields.Count > 0)
                {
                    yield return fields;
                    fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                }
                last = null;
                continue;
            }
            if (char.IsWhiteSpace(line[0]))
            {
                if (last is not null)
                {
                    fields[last] += "\n" + line.Trim();
                }
                continue;
            }
            var colon = line.IndexOf(':');
            if (colon <= 0)
            {
                continue;
            }
            last = line[..colon].Trim();
            fields[last] = line[(colon + 1)..].Trim();
        }
    }
}
