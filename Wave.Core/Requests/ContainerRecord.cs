using Wave.Core.Augmentation;
using Wave.Core.Identity;

namespace Wave.Core.Requests;

/// <summary>
/// The durable account of one container request, kept after its token expired: who asked, from where, what was
/// resolved and served. It holds no secret: no access token, no registry password, no query string of a layer URL,
/// no inline layer data.
/// </summary>
public sealed record ContainerRecord
{
    public required string Token { get; init; }

    public WaveUser? User { get; init; }

    /// <summary>The Seqera Platform workspace the request named (towerWorkspaceId), if any.</summary>
    public long? WorkspaceId { get; init; }

    /// <summary>The Seqera Platform endpoint the user was resolved against (scheme, host, path; never user info).</summary>
    public string? PlatformEndpoint { get; init; }

    public string? RequestIp { get; init; }

    public required string SourceImage { get; init; }

    public string? SourceDigest { get; init; }

    public required string TargetImage { get; init; }

    /// <summary>The digest of what the token's tag served, filled by the registry proxy on its first manifest answer.</summary>
    public string? ServedDigest { get; init; }

    public string? Platform { get; init; }

    /// <summary>The requested changes, with layer locations reduced to what is safe to keep (see <see cref="ContainerRecords.Redact"/>).</summary>
    public ContainerConfig? ContainerConfig { get; init; }

    /// <summary>The build that makes the image, for a build request; null for an augmentation.</summary>
    public string? BuildId { get; init; }

    /// <summary>Where the upstream registry credentials came from: <c>platform</c>, <c>configuration</c> or null (anonymous).</summary>
    public string? CredentialsSource { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>
    /// A freeze request: its image is durable (pushed to the user's repository), the record's id is a request id of its
    /// own and not a token anyone can pull through.
    /// </summary>
    public bool Freeze { get; init; }

    /// <summary>A mirror request (durable like a freeze; <see cref="BuildId"/> is then the mirror id).</summary>
    public bool Mirror { get; init; }

    /// <summary>Whether the request started a new build (false: it joined one, or the image existed); null without a build.</summary>
    public bool? BuildNew { get; init; }

    /// <summary>The security scan of the request's image, if one was asked for.</summary>
    public string? ScanId { get; init; }

    /// <summary>The client's fingerprint of what it asked for (nf-wave sends one), as sent.</summary>
    public string? Fingerprint { get; init; }

    /// <summary>The request's <c>scanMode</c> (<c>async</c>, <c>required</c>) when it has a scan.</summary>
    public string? ScanMode { get; init; }

    /// <summary>The request's <c>scanLevels</c>: the severities a required scan may find.</summary>
    public IReadOnlyList<string>? ScanLevels { get; init; }

    /// <summary>The request is durable (freeze or mirror): answered with the pushed name, never with a token.</summary>
    public bool Durable => Freeze || Mirror;

    /// <summary>When an administrator revoked the token, or null.</summary>
    public DateTimeOffset? RevokedAt { get; init; }

    public bool Revoked => RevokedAt is not null;

    public bool IsAugmented => ContainerConfig is { IsEmpty: false };
}

/// <summary>Container request records: Postgres in distributed mode, the SQLite file in embedded mode.</summary>
public interface IContainerRecordStore
{
    /// <summary>Records a request; false when a record with that token exists already (it is left as it is).</summary>
    Task<bool> CreateAsync(ContainerRecord record, CancellationToken cancellationToken);

    /// <summary>The record, also long after the token expired; null for a token never issued here.</summary>
    Task<ContainerRecord?> FindAsync(string token, CancellationToken cancellationToken);

    /// <summary>Marks the record revoked (the first time only: a later call keeps the first time); false for an unknown token.</summary>
    Task<bool> MarkRevokedAsync(string token, DateTimeOffset revokedAt, CancellationToken cancellationToken);

    /// <summary>Sets the served digest once; false when it was set already or the token is unknown.</summary>
    Task<bool> SetServedDigestAsync(string token, string digest, CancellationToken cancellationToken);
}

/// <summary>What a record says of a request beyond what its token's entry holds: the build it led to (also one found done), its kind, its scan.</summary>
public sealed record RecordDetails(string? BuildId, bool Freeze, bool Mirror, bool? BuildNew, string? ScanId, string? Fingerprint,
    string? ScanMode = null, IReadOnlyList<string>? ScanLevels = null);

public static class ContainerRecords
{
    /// <summary>The record of a request just issued.</summary>
    public static ContainerRecord From(ContainerRequest request, long? workspaceId, string? platformEndpoint, string? credentialsSource, RecordDetails? details = null) => new()
    {
        Token = request.Token,
        User = request.User,
        WorkspaceId = workspaceId,
        PlatformEndpoint = platformEndpoint is null ? null : SafeUrl(platformEndpoint),
        RequestIp = request.RequestIp,
        SourceImage = request.SourceImage,
        SourceDigest = request.SourceDigest,
        BuildId = details?.BuildId ?? request.BuildId,
        TargetImage = request.TargetImage,
        Platform = request.Platform,
        ContainerConfig = Redact(request.ContainerConfig),
        CredentialsSource = credentialsSource,
        CreatedAt = request.CreatedAt,
        ExpiresAt = request.ExpiresAt,
        Freeze = details?.Freeze ?? false,
        Mirror = details?.Mirror ?? false,
        BuildNew = details?.BuildNew,
        ScanId = details?.ScanId,
        Fingerprint = details?.Fingerprint,
        ScanMode = details?.ScanMode,
        ScanLevels = details?.ScanLevels,
    };

    /// <summary>
    /// The config as it may be kept for years and shown to anyone holding the token: a <c>data:</c> layer becomes
    /// <c>data:</c> and its size (its digests stay), an http(s) location loses user info, query and fragment, which is
    /// where pre-signed URLs carry their credentials.
    /// </summary>
    public static ContainerConfig? Redact(ContainerConfig? config)
    {
        if (config?.Layers is not { Count: > 0 } layers)
        {
            return config;
        }
        return config with
        {
            Layers = [.. layers.Select(l => l with { Location = RedactLocation(l.Location) })],
        };
    }

    private static string? RedactLocation(string? location)
    {
        if (location is null)
        {
            return null;
        }
        if (location.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            return "data:";
        }
        return SafeUrl(location);
    }

    private static string SafeUrl(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri)
            ? uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped)
            : "(not a URL)";
}
