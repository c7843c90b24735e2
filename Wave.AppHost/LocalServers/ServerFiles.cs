using System.Security.Cryptography;

namespace Wave.AppHost.LocalServers;

/// <summary>Where a local server's binary and data are, and the password kept with its data.</summary>
internal static class ServerFiles
{
    /// <summary>PATH first, then the folders Debian installs servers into outside it.</summary>
    public static string? Find(string name)
    {
        var folders = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/sbin", "/usr/local/sbin"])
            .Concat(Directory.Exists("/usr/lib/postgresql")
                ? Directory.GetDirectories("/usr/lib/postgresql").OrderDescending(StringComparer.Ordinal).Select(d => Path.Combine(d, "bin"))
                : []);
        return folders.Select(folder => Path.Combine(folder, name)).FirstOrDefault(File.Exists);
    }

    /// <summary>The binary, or an exception whose message is the line that installs it.</summary>
    public static string Require(string name, string debianPackage) =>
        Find(name) ?? throw new InvalidOperationException(
            $"{name} is not installed: apt-get install -y {debianPackage} (or run the backing services as containers: Wave:BackingServices=containers)");

    public static string DataFolder(string dataDirectory, string resourceName)
    {
        var folder = Path.Combine(dataDirectory, resourceName);
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>
    /// A password generated on the first run and kept in the data folder, next to the data it protects: a server
    /// whose users were created with it keeps accepting it across runs (alphanumeric, so that it fits every URI and
    /// connection string unquoted).
    /// </summary>
    public static string StoredPassword(string folder)
    {
        var file = Path.Combine(folder, "password");
        if (!File.Exists(file))
        {
            File.WriteAllText(file, RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 24));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }
        return File.ReadAllText(file).Trim();
    }

    /// <summary>A secret parameter (shown masked in the dashboard) whose value is <see cref="StoredPassword"/>.</summary>
    public static ParameterResource PasswordParameter(string name, string folder) =>
        new($"{name}-password", _ => StoredPassword(folder), secret: true);

    public static void WritePrivate(string path, string content)
    {
        File.WriteAllText(path, content);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}
