using System.Collections;

namespace Wave.AppHost.Model;

/// <summary>What this invocation of the AppHost does, decided from its arguments and environment alone.</summary>
public abstract record AppHostMode
{
    /// <summary>Api + /v2/ + Builder in this process, with in-process state: the default.</summary>
    public sealed record Embedded(string[] Args) : AppHostMode;

    /// <summary>Write the model for deployment (<c>--publisher manifest|kubernetes --output-path X</c>).</summary>
    public sealed record Publish(string Publisher, string OutputPath) : AppHostMode;

    /// <summary>
    /// Start the backing services and the three projects as processes; <paramref name="Args"/> are left for the
    /// AppHost's own web host (dashboard and OTLP receiver), <paramref name="DataDirectory"/> keeps the servers' data.
    /// </summary>
    public sealed record Distributed(string[] Args, string DataDirectory) : AppHostMode;

    public const string DataDirectoryVariable = "WAVE_APPHOST_DATA";

    public static AppHostMode Select(IReadOnlyList<string> args, IDictionary environment, string currentDirectory)
    {
        var publisher = ValueOf(args, "--publisher");
        if (publisher is not null)
        {
            var output = ValueOf(args, "--output-path") ?? throw new ArgumentException("--publisher needs --output-path");
            if (publisher is not ("manifest" or "kubernetes"))
            {
                throw new ArgumentException($"--publisher '{publisher}' is not known: use manifest or kubernetes");
            }
            return new Publish(publisher, Path.GetFullPath(output, currentDirectory));
        }

        var distributed = args.Contains("--distributed")
            || environment.Keys.Cast<object>().Select(k => k.ToString() ?? "")
                .Any(k => k.StartsWith("ConnectionStrings__", StringComparison.OrdinalIgnoreCase)
                    && !string.IsNullOrEmpty(environment[k]?.ToString()))
            || args.Any(a => a.StartsWith("--ConnectionStrings:", StringComparison.OrdinalIgnoreCase));
        if (!distributed)
        {
            return new Embedded([.. args]);
        }
        var fromEnvironment = environment[DataDirectoryVariable]?.ToString();
        var dataDirectory = ValueOf(args, "--data-dir") ?? (string.IsNullOrEmpty(fromEnvironment) ? null : fromEnvironment);
        var rest = Without(Without(args, "--distributed", hasValue: false), "--data-dir", hasValue: true);
        return new Distributed(rest, Path.GetFullPath(dataDirectory ?? ".wave", currentDirectory));
    }

    private static string? ValueOf(IReadOnlyList<string> args, string option)
    {
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == option)
            {
                return i + 1 < args.Count ? args[i + 1] : throw new ArgumentException($"{option} needs a value");
            }
            if (args[i].StartsWith(option + "=", StringComparison.Ordinal))
            {
                return args[i][(option.Length + 1)..];
            }
        }
        return null;
    }

    private static string[] Without(IReadOnlyList<string> args, string option, bool hasValue)
    {
        var kept = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == option)
            {
                i += hasValue ? 1 : 0;
                continue;
            }
            if (args[i].StartsWith(option + "=", StringComparison.Ordinal))
            {
                continue;
            }
            kept.Add(args[i]);
        }
        return [.. kept];
    }
}
