namespace Wave.Core.Registry;

/// <summary>A registry login. ToString never shows the password.</summary>
public sealed record RegistryCredentials(string Username, string Password)
{
    public override string ToString() => $"RegistryCredentials {{ Username = {Username}, Password = *** }}";
}

public interface IRegistryCredentialsProvider
{
    /// <summary>The credentials to use for a registry host (as in an image name, e.g. <c>localhost:5000</c>), or null for anonymous.</summary>
    ValueTask<RegistryCredentials?> GetAsync(string registry, CancellationToken cancellationToken = default);
}

/// <summary>One configured registry: <c>Wave:Registries:N:{Host,Username,Password,Insecure}</c>.</summary>
public sealed class RegistryEndpoint
{
    public string Host { get; set; } = "";
    public string? Username { get; set; }
    public string? Password { get; set; }
    /// <summary>Speak plain HTTP to this host (localhost and 127.0.0.0/8 always are).</summary>
    public bool Insecure { get; set; }
}

public sealed class RegistryOptions
{
    public List<RegistryEndpoint> Registries { get; set; } = [];
}

/// <summary>One login for one registry, then whatever <see cref="Fallback"/> says for the others.</summary>
public sealed class SingleRegistryCredentials(string registry, RegistryCredentials credentials, IRegistryCredentialsProvider fallback) : IRegistryCredentialsProvider
{
    public IRegistryCredentialsProvider Fallback { get; } = fallback;

    public ValueTask<RegistryCredentials?> GetAsync(string registryHost, CancellationToken cancellationToken = default) =>
        RegistryAddress.SameRegistry(registry, registryHost)
            ? ValueTask.FromResult<RegistryCredentials?>(credentials)
            : Fallback.GetAsync(registryHost, cancellationToken);
}
