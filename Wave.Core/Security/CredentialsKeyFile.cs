using System.Security.Cryptography;

namespace Wave.Core.Security;

/// <summary>
/// A credentials key kept in a file (base64 of 32 random bytes, readable by its owner only), for a service whose state
/// store is its own memory: the random key <see cref="CredentialSealer"/> otherwise keeps there would be forgotten by a
/// restart, and with it every login sealed in a durable record (a mirror's job). Processes sharing the folder share the
/// key; the first one to start creates it.
/// </summary>
public static class CredentialsKeyFile
{
    public const string FileName = "credentials.key";

    public static string ReadOrCreate(string path)
    {
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            try
            {
                var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows())
                {
                    options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                }
                using var writer = new StreamWriter(path, System.Text.Encoding.ASCII, options);
                writer.Write(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process created it first: use theirs.
            }
        }
        var key = File.ReadAllText(path).Trim();
        // Wait out a writer that created the file but has not written it yet.
        for (var i = 0; key.Length == 0 && i < 50; i++)
        {
            Thread.Sleep(20);
            key = File.ReadAllText(path).Trim();
        }
        return key;
    }
}
