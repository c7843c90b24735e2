using System.Text;

namespace Wave.Core.Builds;

/// <summary>Terminal escape sequences removed from build output, so that stored logs read as plain text.</summary>
public static class AnsiText
{
    private const char Escape = '\u001b';
    private const char Bell = '\u0007';
    private const char ControlSequenceIntroducer8Bit = '\u009b';

    /// <summary>
    /// Removes CSI sequences (colours, cursor moves: <c>ESC [ … final</c>), OSC sequences (window titles, links:
    /// <c>ESC ] … BEL</c> or <c>ESC ] … ESC \</c>), other string commands (DCS, PM, APC, SOS) and two-character escapes.
    /// An unterminated sequence at the end of the text is dropped too: it cannot carry readable text.
    /// </summary>
    public static string Strip(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.IndexOf(Escape) < 0 && text.IndexOf(ControlSequenceIntroducer8Bit) < 0)
        {
            return text;
        }
        var result = new StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == ControlSequenceIntroducer8Bit)
            {
                i = SkipControlSequence(text, i + 1);
            }
            else if (c != Escape)
            {
                result.Append(c);
                i++;
            }
            else if (i + 1 >= text.Length)
            {
                i++;
            }
            else
            {
                i = text[i + 1] switch
                {
                    '[' => SkipControlSequence(text, i + 2),
                    ']' or 'P' or '^' or '_' or 'X' => SkipStringCommand(text, i + 2),
                    // ESC followed by intermediates (0x20-0x2F) then one final byte, e.g. ESC ( B (character set).
                    >= ' ' and <= '/' => SkipIntermediatesAndFinal(text, i + 1),
                    _ => i + 2,
                };
            }
        }
        return result.ToString();
    }

    /// <summary>Parameter bytes 0x30-0x3F, intermediate bytes 0x20-0x2F, one final byte 0x40-0x7E.</summary>
    private static int SkipControlSequence(string text, int i)
    {
        while (i < text.Length && text[i] is >= '0' and <= '?')
        {
            i++;
        }
        return SkipIntermediatesAndFinal(text, i);
    }

    private static int SkipIntermediatesAndFinal(string text, int i)
    {
        while (i < text.Length && text[i] is >= ' ' and <= '/')
        {
            i++;
        }
        // A malformed sequence ends at the first byte that is not a valid final byte, which is kept as text.
        return i < text.Length && text[i] is >= '@' and <= '~' ? i + 1 : i;
    }

    /// <summary>Everything up to BEL or the string terminator ESC \.</summary>
    private static int SkipStringCommand(string text, int i)
    {
        while (i < text.Length)
        {
            if (text[i] == Bell)
            {
                return i + 1;
            }
            if (text[i] == Escape && i + 1 < text.Length && text[i + 1] == '\\')
            {
                return i + 2;
            }
            i++;
        }
        return i;
    }
}
