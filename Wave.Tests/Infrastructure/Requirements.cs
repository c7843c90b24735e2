namespace Wave.Tests.Infrastructure;

/// <summary>
/// A test that needs a server or tool fails, never passes silently, when it is missing, and says what to install.
/// scripts/test.sh installs all of them; these messages are for someone running `dotnet test` by hand.
/// </summary>
public static class Requirements
{
    public static string Binary(string name, string debianPackage)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
                     .Concat(["/usr/sbin", "/sbin", "/usr/local/sbin"]))
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path))
            {
                return path;
            }
        }
        throw new MissingRequirementException(
            $"'{name}' is not installed: run `apt-get install -y {debianPackage}` (or scripts/test.sh, which installs everything the tests need)");
    }
}

public sealed class MissingRequirementException(string message) : Exception(message);
