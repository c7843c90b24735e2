using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

using Wave.Core.Registry;

namespace Wave.Tests.Infrastructure;

/// <summary>
/// The token service of a distribution registry configured with <c>auth.token</c>: checks Basic credentials and
/// issues RS256 JWTs whose x5c header carries a self-signed certificate that the registry trusts (rootcertbundle).
/// Valid users get what they ask for; anonymous callers get a token without access; wrong credentials get 401.
/// </summary>
public sealed class TokenServer : IAsyncDisposable
{
    public const string Service = "wave-test-registry";
    public const string Issuer = "wave-test-token-issuer";

    private readonly WebApplication _app;
    private readonly RSA _key;
    private readonly X509Certificate2 _certificate;
    private readonly RegistryCredentials _user;
    private int _requests;

    private TokenServer(WebApplication app, RSA key, X509Certificate2 certificate, RegistryCredentials user, int port)
    {
        _app = app;
        _key = key;
        _certificate = certificate;
        _user = user;
        Realm = $"http://127.0.0.1:{port}/token";
    }

    public string Realm { get; }

    /// <summary>How many token requests this service has answered.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>The certificate bundle (PEM) the registry verifies tokens with.</summary>
    public string CertificatePem => _certificate.ExportCertificatePem();

    public static async Task<TokenServer> StartAsync(RegistryCredentials user)
    {
        var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=wave-test-token-issuer", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        var now = DateTimeOffset.UtcNow;
        var certificate = request.CreateSelfSigned(now.AddHours(-1), now.AddDays(2));

        var port = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var server = new TokenServer(app, key, certificate, user, port);
        app.MapGet("/token", server.Issue);
        await app.StartAsync();
        return server;
    }

    private IResult Issue(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        string? subject = null;
        var authorization = context.Request.Headers.Authorization.ToString();
        if (authorization.Length > 0)
        {
            if (!IsValidBasic(authorization))
            {
                return Results.Json(new { errors = new[] { new { code = "UNAUTHORIZED", message = "bad credentials" } } }, statusCode: 401);
            }
            subject = _user.Username;
        }
        var access = subject is null
            ? []
            : context.Request.Query["scope"]
                .SelectMany(s => (s ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Select(ParseScope)
                .OfType<object>()
                .ToArray();
        var expiresIn = 300;
        var token = Sign(subject ?? "", context.Request.Query["service"].ToString(), access, expiresIn);
        return Results.Json(new { token, access_token = token, expires_in = expiresIn, issued_at = DateTimeOffset.UtcNow.ToString("O") });
    }

    private bool IsValidBasic(string authorization)
    {
        if (!authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization["Basic ".Length..].Trim()));
            return decoded == $"{_user.Username}:{_user.Password}";
        }
        catch (FormatException)
        {
            return false;
        }
    }

    // "repository:team/app:pull,push" — the name may not contain ':' here, but the actions are after the last one.
    private static object? ParseScope(string scope)
    {
        var first = scope.IndexOf(':', StringComparison.Ordinal);
        var last = scope.LastIndexOf(':');
        if (first <= 0 || last <= first)
        {
            return null;
        }
        return new { type = scope[..first], name = scope[(first + 1)..last], actions = scope[(last + 1)..].Split(',') };
    }

    private string Sign(string subject, string service, object[] access, int expiresIn)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = new Dictionary<string, object>
        {
            ["typ"] = "JWT",
            ["alg"] = "RS256",
            ["x5c"] = new[] { Convert.ToBase64String(_certificate.RawData) },
        };
        var claims = new Dictionary<string, object>
        {
            ["iss"] = Issuer,
            ["sub"] = subject,
            ["aud"] = service.Length > 0 ? service : Service,
            ["exp"] = now + expiresIn,
            ["nbf"] = now - 10,
            ["iat"] = now,
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["access"] = access,
        };
        var signingInput = Base64Url(JsonSerializer.SerializeToUtf8Bytes(header)) + "." + Base64Url(JsonSerializer.SerializeToUtf8Bytes(claims));
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + Base64Url(signature);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _certificate.Dispose();
        _key.Dispose();
    }
}
