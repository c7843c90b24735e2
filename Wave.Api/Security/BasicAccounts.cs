using System.Net.Http.Headers;
using System.Text;

using Wave.Core.Metrics;
using Wave.Core.Security;

namespace Wave.Api.Security;

/// <summary><c>Wave:Admin</c>: who may revoke container tokens (HTTP Basic, password hashes as for the metrics API).</summary>
public sealed class AdminOptions
{
    public List<MetricsAccount> Accounts { get; set; } = [];
}

/// <summary>HTTP Basic against configured accounts whose passwords are kept as <see cref="PasswordHash"/> values.</summary>
public static class BasicAccounts
{
    /// <summary>The account name the header proves, or null (no header, not Basic, malformed, unknown user or wrong password).</summary>
    public static string? Authenticate(string authorization, IEnumerable<MetricsAccount> accounts)
    {
        if (!AuthenticationHeaderValue.TryParse(authorization, out var header) || !"Basic".Equals(header.Scheme, StringComparison.OrdinalIgnoreCase) || header.Parameter is null)
        {
            return null;
        }
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header.Parameter));
        }
        catch (FormatException)
        {
            return null;
        }
        var colon = decoded.IndexOf(':');
        if (colon <= 0)
        {
            return null;
        }
        var (user, password) = (decoded[..colon], decoded[(colon + 1)..]);
        return accounts.Any(a => a.UserName == user && PasswordHash.Verify(password, a.PasswordHash)) ? user : null;
    }

    /// <summary>A 401 with the challenge a client needs to retry with credentials.</summary>
    public static IResult Challenge(HttpContext context, string realm, string message)
    {
        context.Response.Headers.WWWAuthenticate = $"Basic realm=\"{realm}\", charset=\"UTF-8\"";
        return Apis.ContainerApi.Error(StatusCodes.Status401Unauthorized, message);
    }
}
