using System.Text;

namespace Wave.Core.Builds;

/// <summary>Decodes a base64 recipe field into text, refusing what is not base64, not UTF-8, empty or too large.</summary>
internal static class RecipeText
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string Decode(string field, string base64, int maxBytes)
    {
        // Cheap bound first, so an absurd value is refused without allocating its decoded form.
        if (base64.Length / 4L * 3 > maxBytes * 2L + 3)
        {
            throw Invalid(field, $"is larger than {maxBytes} bytes (the limit for this recipe)");
        }
        var buffer = new byte[(base64.Length / 4 * 3) + 3];
        if (!Convert.TryFromBase64String(base64, buffer, out var written))
        {
            throw Invalid(field, "is not valid base64");
        }
        if (written == 0)
        {
            throw Invalid(field, "is empty");
        }
        if (written > maxBytes)
        {
            throw Invalid(field, $"is {written} bytes once decoded; at most {maxBytes} are allowed");
        }
        try
        {
            return StrictUtf8.GetString(buffer, 0, written);
        }
        catch (DecoderFallbackException)
        {
            throw Invalid(field, "is not UTF-8 text once decoded from base64");
        }
    }

    public static InvalidBuildRequestException Invalid(string field, string problem) => new(new BuildRequestError(field, problem));
}
