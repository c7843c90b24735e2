using System.Net;
using System.Text;
using System.Text.Json;

using Wave.Core.Names;
using Wave.Core.Registry;

namespace Wave.Builder.Local;

/// <summary>
/// The two files through which buildah learns how to reach registries: a <c>registries.conf</c> marking the
/// insecure ones, and an <c>auth.json</c> with the build's credentials. Both are rendered here as text (pure), and
/// written by the backend into the build's private folder so that nothing from the host's own configuration (or
/// another build's) is used.
/// </summary>
public static class RegistryAccess
{
    /// <summary>The registry part of an image name, normalised as Docker does (<c>busybox</c> → <c>docker.io</c>); null when unparsable.</summary>
    public static string? RegistryOf(string image) =>
        ImageReference.TryParse(image, out var reference, out _) ? reference.Registry : null;

    /// <summary><c>localhost</c>, <c>127.x.x.x</c> or <c>::1</c>, with or without a port.</summary>
    public static bool IsLoopback(string registry)
    {
        var host = HostWithoutPort(registry);
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
               || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
    }

    /// <summary>
    /// Registries a build may reach without TLS verification: those configured, plus every loopback registry the
    /// build names (its target, its cache, and the images its Dockerfile starts from or copies from).
    /// </summary>
    public static IReadOnlyList<string> InsecureRegistries(IEnumerable<string> configured, IEnumerable<string> registriesOfTheBuild) =>
        configured.Concat(registriesOfTheBuild.Where(IsLoopback))
            .Where(r => !string.IsNullOrWhiteSpace(r))
            .Select(r => r.Trim())
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>True when <paramref name="registry"/> is one of <paramref name="insecure"/>.</summary>
    public static bool IsInsecure(string registry, IEnumerable<string> insecure) =>
        insecure.Contains(registry, StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The images a Dockerfile pulls: <c>FROM [--platform=…] image [AS name]</c> and <c>COPY --from=image</c>
    /// (stage names and <c>scratch</c> excluded, <c>ARG</c> substitutions left alone: they cannot be resolved here).
    /// </summary>
    public static IReadOnlyList<string> ImagesOf(string dockerfile)
    {
        var stages = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "scratch" };
        var images = new List<string>();
        foreach (var rawLine in dockerfile.Split('\n'))
        {
            var words = rawLine.Trim().Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 2)
            {
                continue;
            }
            if (words[0].Equals("FROM", StringComparison.OrdinalIgnoreCase))
            {
                var rest = words.Skip(1).SkipWhile(w => w.StartsWith("--", StringComparison.Ordinal)).ToArray();
                if (rest.Length == 0)
                {
                    continue;
                }
                if (!stages.Contains(rest[0]) && !rest[0].Contains('$', StringComparison.Ordinal))
                {
                    images.Add(rest[0]);
                }
                if (rest.Length >= 3 && rest[1].Equals("AS", StringComparison.OrdinalIgnoreCase))
                {
                    stages.Add(rest[2]);
                }
            }
            else if (words[0].Equals("COPY", StringComparison.OrdinalIgnoreCase))
            {
                foreach (var word in words.Skip(1).TakeWhile(w => w.StartsWith("--", StringComparison.Ordinal)))
                {
                    if (word.StartsWith("--from=", StringComparison.OrdinalIgnoreCase))
                    {
                        var source = word["--from=".Length..];
                        if (!stages.Contains(source) && !int.TryParse(source, out _) && !source.Contains('$', StringComparison.Ordinal))
                        {
                            images.Add(source);
                        }
                    }
                }
            }
        }
        return images;
    }

    /// <summary>
    /// A complete <c>registries.conf</c> (v2): short names resolve on Docker Hub as Docker resolves them, and each
    /// insecure registry gets its own entry.
    /// </summary>
    public static string RegistriesConf(IEnumerable<string> insecureRegistries)
    {
        var text = new StringBuilder();
        text.Append("unqualified-search-registries = [\"docker.io\"]\n");
        text.Append("short-name-mode = \"permissive\"\n");
        foreach (var registry in insecureRegistries)
        {
            text.Append("\n[[registry]]\n");
            text.Append("location = ").Append(TomlString(registry)).Append('\n');
            text.Append("insecure = true\n");
        }
        return text.ToString();
    }

    /// <summary>The containers-auth.json document for the given credentials (an empty one for none).</summary>
    public static string AuthJson(IReadOnlyDictionary<string, RegistryCredentials> credentials)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("auths");
            foreach (var (registry, login) in credentials.OrderBy(c => c.Key, StringComparer.Ordinal))
            {
                json.WriteStartObject(registry);
                json.WriteString("auth", Convert.ToBase64String(Encoding.UTF8.GetBytes(login.Username + ":" + login.Password)));
                json.WriteEndObject();
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string HostWithoutPort(string registry)
    {
        if (registry.StartsWith('['))
        {
            var end = registry.IndexOf(']', StringComparison.Ordinal);
            return end > 0 ? registry[1..end] : registry;
        }
        var colon = registry.LastIndexOf(':');
        return colon >= 0 && registry.IndexOf(':') == colon ? registry[..colon] : registry;
    }

    private static string TomlString(string value) =>
        "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
