namespace Wave.Core.Builds.Templates;

/// <summary>Writes a word into a POSIX shell command line so that the shell reads it back unchanged.</summary>
public static class ShellWord
{
    /// <summary>Plain when it holds only characters the shell leaves alone, otherwise in single quotes.</summary>
    public static string Quote(string word)
    {
        if (word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or ':' or '=' or '/' or '+' or '@' or ','))
        {
            return word;
        }
        return "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }
}
