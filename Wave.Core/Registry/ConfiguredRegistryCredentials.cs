using Microsoft.Extensions.Options;

namespace Wave.Core.Registry;

/// <summary>Credentials from configuration (<c>Wave:Registries</c>): the entry whose host names the registry.</summary>
public sealed class ConfiguredRegistryCredentials(IOptions<RegistryOptions> options) : IRegistryCredentialsProvider
{
    public ValueTask<RegistryCredentials?> GetAsync(string registry, CancellationToken cancellationToken = default)
    {
        var entry = options.Value.Registries.FirstOrDefault(r =>
            !string.IsNullOrEmpty(r.Username) && RegistryAddress.SameRegistry(r.Host, registry));
        return ValueTask.FromResult(entry is null ? null : new RegistryCredentials(entry.Username!, entry.Password ?? ""));
    }
}
