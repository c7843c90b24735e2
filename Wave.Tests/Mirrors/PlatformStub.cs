using System.Text.Json;

using Microsoft.AspNetCore.Http;

using Wave.Core.Registry;
using Wave.Tests.Infrastructure;

namespace Wave.Tests.Mirrors;

/// <summary>
/// A Seqera-Platform-compatible endpoint for mirror tests (Platform itself is a hosted service, not a server that runs
/// here): <c>/user-info</c> for one access token, and the user's container registry logins under
/// <c>/credentials</c> and <c>/credentials/{id}/keys</c>, as Wave reads them.
/// </summary>
public sealed class PlatformStub : IAsyncDisposable
{
    public const string AccessToken = "platform-token-of-mira-5b1f";
    public const long UserId = 4242;

    private readonly ScriptedHttpServer _server;

    private PlatformStub(ScriptedHttpServer server) => _server = server;

    public string Endpoint => $"http://{_server.Host}/api";

    public IReadOnlyList<ReceivedRequest> Received => _server.Received;

    /// <param name="logins">Registry host → the login Platform keeps for it.</param>
    public static async Task<PlatformStub> StartAsync(IReadOnlyDictionary<string, RegistryCredentials> logins)
    {
        var ids = logins.Keys.Select((host, i) => (Id: $"cr-{i}", Host: host)).ToList();
        var server = await ScriptedHttpServer.StartAsync(async context =>
        {
            if (context.Request.Headers.Authorization != $"Bearer {AccessToken}")
            {
                context.Response.StatusCode = 401;
                return;
            }
            object? answer = context.Request.Path.Value switch
            {
                "/api/user-info" => new { user = new { id = UserId, userName = "mira", email = "mira@example.org" } },
                "/api/credentials" => new
                {
                    credentials = ids.Select(c => new { id = c.Id, name = c.Host, provider = "container-reg", keys = new { registry = c.Host } }).ToArray(),
                },
                var path when ids.FirstOrDefault(c => path == $"/api/credentials/{c.Id}/keys") is { Id: not null } found => new
                {
                    keys = new { userName = logins[found.Host].Username, password = logins[found.Host].Password, registry = found.Host },
                },
                _ => null,
            };
            if (answer is null)
            {
                context.Response.StatusCode = 404;
                return;
            }
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(JsonSerializer.Serialize(answer));
        });
        return new PlatformStub(server);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
