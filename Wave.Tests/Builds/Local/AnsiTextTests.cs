using Wave.Builder.Local;
using Wave.Core.Builds;

namespace Wave.Tests.Builds.Local;

public sealed class AnsiTextTests
{
    [Theory]
    [InlineData("\u001b[1;32mSTEP 1/2\u001b[0m: FROM busybox", "STEP 1/2: FROM busybox")]
    [InlineData("\u001b[2K\u001b[1Gcopying blob", "copying blob")]
    [InlineData("\u001b[?25lhidden cursor\u001b[?25h", "hidden cursor")]
    [InlineData("\u001b]0;window title\u0007text", "text")]
    [InlineData("\u001b]8;;http://example.com\u001b\\link\u001b]8;;\u001b\\", "link")]
    [InlineData("\u009b31mred\u009b0m", "red")]
    [InlineData("\u001b(Bcharset", "charset")]
    [InlineData("\u001bMreverse index", "reverse index")]
    [InlineData("\u001bPdevice control\u001b\\after", "after")]
    [InlineData("ends with escape\u001b", "ends with escape")]
    [InlineData("ends inside a sequence\u001b[12;", "ends inside a sequence")]
    [InlineData("unterminated title\u001b]0;never ends", "unterminated title")]
    public void Strip_removes_escape_sequences_and_keeps_the_text(string input, string expected) =>
        Assert.Equal(expected, AnsiText.Strip(input));

    [Fact]
    public void Text_without_escapes_is_returned_unchanged()
    {
        const string text = "plain [brackets] and ] and tabs\tand unicode é ✓";
        Assert.Same(text, AnsiText.Strip(text));
    }

    [Fact]
    public void A_malformed_sequence_keeps_the_byte_that_is_not_a_final_byte()
    {
        // ESC [ followed by a control character: the sequence ends, the newline is text.
        Assert.Equal("a\nb", AnsiText.Strip("a\u001b[\nb"));
    }
}
