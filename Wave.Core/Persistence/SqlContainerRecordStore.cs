using System.Data.Common;
using System.Text.Json;

using Wave.Core.Augmentation;
using Wave.Core.Identity;
using Wave.Core.Requests;

using static Wave.Core.Persistence.SqlCommands;

namespace Wave.Core.Persistence;

/// <summary>
/// <see cref="IContainerRecordStore"/> over plain ADO.NET, for Postgres and SQLite alike (table
/// <c>container_requests</c>, migration 0003). The schema belongs to the build store's migrations: this store waits
/// for the build store's own once-per-instance migration (<see cref="SqlBuildStore.EnsureSchemaAsync"/>) before its
/// first statement, so one process migrates once whichever store is used first.
/// </summary>
public abstract class SqlContainerRecordStore(Func<CancellationToken, Task> ensureSchema) : IContainerRecordStore
{
    private const string Columns =
        "token, user_id, user_name, user_email, workspace_id, platform_endpoint, request_ip, source_image, source_digest, " +
        "target_image, served_digest, platform, container_config, build_id, credentials_source, created_at, expires_at, revoked_at, " +
        "is_freeze, is_mirror, build_new, scan_id, fingerprint, scan_mode, scan_levels";

    protected abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    protected abstract object ToDbTimestamp(DateTimeOffset value);

    protected abstract DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal);

    public async Task<bool> CreateAsync(ContainerRecord record, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        return await ExecuteAsync(connection,
            $"INSERT INTO container_requests ({Columns}) VALUES (@token, @user_id, @user_name, @user_email, @workspace_id, @platform_endpoint, " +
            "@request_ip, @source_image, @source_digest, @target_image, @served_digest, @platform, @container_config, @build_id, " +
            "@credentials_source, @created_at, @expires_at, @revoked_at, @is_freeze, @is_mirror, @build_new, @scan_id, @fingerprint, @scan_mode, @scan_levels) " +
            "ON CONFLICT (token) DO NOTHING",
            [
                ("token", record.Token), ("user_id", record.User?.Id), ("user_name", record.User?.UserName), ("user_email", record.User?.Email),
                ("workspace_id", record.WorkspaceId), ("platform_endpoint", record.PlatformEndpoint), ("request_ip", record.RequestIp),
                ("source_image", record.SourceImage), ("source_digest", record.SourceDigest), ("target_image", record.TargetImage),
                ("served_digest", record.ServedDigest), ("platform", record.Platform),
                ("container_config", record.ContainerConfig is null ? null : JsonSerializer.Serialize(record.ContainerConfig)),
                ("build_id", record.BuildId), ("credentials_source", record.CredentialsSource), ("created_at", Timestamp(record.CreatedAt)),
                ("expires_at", Timestamp(record.ExpiresAt)), ("revoked_at", Timestamp(record.RevokedAt)),
                ("is_freeze", record.Freeze), ("is_mirror", record.Mirror), ("build_new", record.BuildNew), ("scan_id", record.ScanId),
                ("fingerprint", record.Fingerprint), ("scan_mode", record.ScanMode),
                ("scan_levels", record.ScanLevels is null ? null : JsonSerializer.Serialize(record.ScanLevels)),
            ], cancellationToken) == 1;
    }

    public async Task<ContainerRecord?> FindAsync(string token, CancellationToken cancellationToken)
    {
        if (!ContainerTokens.IsWellFormed(token))
        {
            return null;
        }
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, $"SELECT {Columns} FROM container_requests WHERE token = @token", [("token", token)]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task<bool> MarkRevokedAsync(string token, DateTimeOffset revokedAt, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        // COALESCE keeps the first revocation time; the row count still says whether the token is known.
        return await ExecuteAsync(connection, "UPDATE container_requests SET revoked_at = COALESCE(revoked_at, @revoked_at) WHERE token = @token",
            [("token", token), ("revoked_at", Timestamp(revokedAt))], cancellationToken) == 1;
    }

    public async Task<bool> SetServedDigestAsync(string token, string digest, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        return await ExecuteAsync(connection, "UPDATE container_requests SET served_digest = @digest WHERE token = @token AND served_digest IS NULL",
            [("token", token), ("digest", digest)], cancellationToken) == 1;
    }

    private Task EnsureSchemaAsync(CancellationToken cancellationToken) => ensureSchema(cancellationToken);

    private ContainerRecord Read(DbDataReader reader) => new()
    {
        Token = reader.GetString(0),
        User = reader.IsDBNull(1) ? null : new WaveUser(reader.GetString(1), NullableString(reader, 2) ?? "", NullableString(reader, 3)),
        WorkspaceId = reader.IsDBNull(4) ? null : reader.GetInt64(4),
        PlatformEndpoint = NullableString(reader, 5),
        RequestIp = NullableString(reader, 6),
        SourceImage = reader.GetString(7),
        SourceDigest = reader.IsDBNull(8) ? null : reader.GetString(8),
        TargetImage = reader.GetString(9),
        ServedDigest = NullableString(reader, 10),
        Platform = NullableString(reader, 11),
        ContainerConfig = reader.IsDBNull(12) ? null : JsonSerializer.Deserialize<ContainerConfig>(reader.GetString(12)),
        BuildId = NullableString(reader, 13),
        CredentialsSource = NullableString(reader, 14),
        CreatedAt = ReadTimestamp(reader, 15),
        ExpiresAt = ReadTimestamp(reader, 16),
        RevokedAt = reader.IsDBNull(17) ? null : ReadTimestamp(reader, 17),
        Freeze = !reader.IsDBNull(18) && reader.GetBoolean(18),
        Mirror = !reader.IsDBNull(19) && reader.GetBoolean(19),
        BuildNew = reader.IsDBNull(20) ? null : reader.GetBoolean(20),
        ScanId = NullableString(reader, 21),
        Fingerprint = NullableString(reader, 22),
        ScanMode = NullableString(reader, 23),
        ScanLevels = reader.IsDBNull(24) ? null : JsonSerializer.Deserialize<List<string>>(reader.GetString(24)),
    };

    /// <summary>Microseconds, as the build store keeps them.</summary>
    private object? Timestamp(DateTimeOffset? value) => value is { } v
        ? ToDbTimestamp(ToMicroseconds(v))
        : null;

}
